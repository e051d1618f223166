import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { twoloop } from "../support/cli.ts"
import { configFor, makeProject, runPipeline } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const target = { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 }

describe("the prompt library across projects", () => {
  it.live("saves the evolved prompt, exports it, imports it elsewhere and warm-starts that project's GEPA stage", () =>
    Effect.gen(function* () {
      const homeA = tempDir("twoloop-home-a-")
      const homeB = tempDir("twoloop-home-b-")
      const previous = process.env.TWOLOOP_HOME
      try {
        process.env.TWOLOOP_HOME = homeA
        const a = makeProject("quadratic-target", { git: true })
        const first = configFor(a.root, {
          name: "project-a",
          target,
          executor: { kind: "local", gpus: "none" },
          stages: [
            { kind: "gepa", name: "outer", budget: { metricCalls: 15 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
            { kind: "code-search", name: "inner", budget: { experiments: 5 } },
          ],
        })
        const summaryA = yield* runPipeline(first).effect
        const list = yield* Effect.promise(() => twoloop(["prompts", "list"], { env: { TWOLOOP_HOME: homeA } }))
        const id = /^\| ([0-9a-f]{12}) \| project-a \| loss \(minimize\)/m.exec(String(list.stdout))?.[1]
        expect(id, String(list.all)).toBeDefined()
        const file = path.join(a.root, "prompts", "evolved.md")
        const exported = yield* Effect.promise(() => twoloop(["prompts", "export", id!, "--out", file], { env: { TWOLOOP_HOME: homeA } }))
        expect(exported.exitCode, String(exported.all)).toBe(0)
        const markdown = fs.readFileSync(file, "utf8")
        expect(markdown).toContain(`run: ${summaryA.runId}`)
        expect(markdown).toContain("offline: true")
        expect(markdown).toContain("<!-- twoloop:component directions -->")

        const imported = yield* Effect.promise(() => twoloop(["prompts", "import", file], { env: { TWOLOOP_HOME: homeB } }))
        expect(String(imported.stdout)).toContain(`imported ${id}`)
        process.env.TWOLOOP_HOME = homeB
        const b = makeProject("quadratic-target")
        const second = configFor(b.root, {
          name: "project-b",
          target,
          executor: { kind: "local", gpus: "none" },
          stages: [{ kind: "gepa", name: "outer", budget: { metricCalls: 12 }, seedFromLibrary: id, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } }],
        })
        const summaryB = yield* runPipeline(second).effect
        const db = new Database(second.store, { readonly: true })
        const candidates = db.prepare("SELECT idx, origin, library_entry_id FROM candidates ORDER BY idx").all() as Array<Record<string, any>>
        db.close()
        expect(candidates[0]).toMatchObject({ idx: 0, origin: "seed" })
        expect(candidates[1]).toMatchObject({ idx: 1, origin: "library", library_entry_id: id })
        const outer = summaryB.stages[0]!.summary as Record<string, unknown>
        expect(outer.libraryEntries).toBe(1)
        expect(typeof outer.libraryWon).toBe("boolean")
        const report = fs.readFileSync(path.join(summaryB.runDir, "report.md"), "utf8")
        expect(report).toMatch(/library \(/)
        expect(report).toMatch(outer.libraryWon ? /A prompt-library seed won/ : /Prompt-library seeds joined but did not win/)
      } finally {
        if (previous === undefined) delete process.env.TWOLOOP_HOME
        else process.env.TWOLOOP_HOME = previous
      }
    }))

  it("refuses a library id that does not exist, naming the option", async () => {
    const { root } = makeProject("quadratic-target")
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({ name: "c", target, executor: { kind: "local", gpus: "none" }, stages: [{ kind: "gepa", budget: { metricCalls: 12 }, seedFromLibrary: "0123456789ab", adapter: { kind: "research" } }] }),
    )
    const result = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() } })
    expect(result.exitCode).toBe(1)
    expect(String(result.stderr).trim()).toMatch(/^twoloop: gepa: seedFromLibrary: no prompt 0123456789ab in the library /)
  })
})
