import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { type OpenAiServer, startOpenAiServer } from "../../support/openaiServer.ts"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

const target = (env: Record<string, string> = {}) => ({
  dir: "target",
  editable: ["train.mjs"],
  readonly: ["prepare.mjs"],
  command: "node train.mjs",
  metric: { name: "loss", direction: "minimize" },
  timeBudgetSeconds: 5,
  env,
})

const rowsOf = (store: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT * FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
  const calls = db.prepare("SELECT * FROM llm_calls ORDER BY id").all() as Array<Record<string, any>>
  db.close()
  return { rows, calls }
}

describe("code-search throughput and the real provider path", () => {
  it.live("runs two workers at once on separate worktrees, sharing the incumbent, within the exact budget", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target", { git: true })
      // The two baselines wait for each other (FIXTURE_RENDEZVOUS): they can only both end if both ran at once.
      const config = configFor(root, {
        target: target({ FIXTURE_RENDEZVOUS: path.join(root, "rendezvous") }),
        executor: { kind: "local", gpus: "none", cpuSlots: 2 },
        stages: [{ kind: "code-search", name: "inner", workers: 2, budget: { experiments: 12 } }],
      })
      const summary = yield* runPipeline(config).effect
      const { rows } = rowsOf(config.store)
      expect(rows).toHaveLength(12)
      expect(new Set(rows.map((r) => r.worker))).toEqual(new Set([0, 1]))
      // experiments of the two workers overlapped in time
      const spans = rows.filter((r) => r.started_at).map((r) => ({ worker: r.worker, start: Date.parse(r.started_at), end: Date.parse(r.ended_at) }))
      const overlapping = spans.some((a) => spans.some((b) => a.worker !== b.worker && a.start < b.end && b.start < a.end))
      expect(overlapping).toBe(true)
      const result = summary.stages[0]!.summary as Record<string, any>
      expect(result.best).toBeLessThan(result.baseline)
      // every kept commit descends from the previous incumbent: the kept history is one line
      const kept = rows.filter((r) => r.status === "keep")
      for (let i = 1; i < kept.length; i++) {
        const ancestor = execFileSync("git", ["merge-base", "--is-ancestor", kept[i - 1]!.result_commit, kept[i]!.result_commit], { cwd: root }).toString()
        expect(ancestor).toBe("")
      }
      for (const branch of result.branches as Array<string>) {
        expect(execFileSync("git", ["rev-parse", branch], { cwd: root, encoding: "utf8" }).trim()).toBe(result.bestCommit)
      }
    }))

  describe("with an OpenAI-compatible server", () => {
    let server: OpenAiServer
    beforeAll(async () => {
      server = await startOpenAiServer()
    })
    afterAll(() => server.close())

    it.live("proposes edits over HTTP, retries a malformed reply once, and records every call", () =>
      Effect.gen(function* () {
        const { root } = makeProject("quadratic-target", { git: true })
        const config = configFor(root, {
          model: `openai-compatible:agent-model@${server.baseURL}`,
          llm: { retries: 1, timeoutSeconds: 10 },
          target: target(),
          executor: { kind: "local", gpus: "none" },
          stages: [{ kind: "code-search", name: "inner", budget: { experiments: 4 }, pipelining: false }],
        })
        const edit = (description: string, search: string, replacement: string) =>
          JSON.stringify({ direction: "optimizer", rationale: "adaptive methods converge faster", description, changes: [{ path: "train.mjs", kind: "replace", search, replace: replacement }] })
        server.enqueue(
          { kind: "text", content: '{"direction": "optimizer", "rationale": "cut off' },
          { kind: "text", content: edit("adam", 'const OPTIMIZER = "sgd"', 'const OPTIMIZER = "adam"') },
          { kind: "status", status: 500 },
          { kind: "text", content: edit("norm", "const USE_NORM = false", "const USE_NORM = true") },
        )
        const summary = yield* runPipeline(config).effect
        expect(summary.status).toBe("completed")
        const { rows, calls } = rowsOf(config.store)
        expect(rows.slice(2).map((r) => [r.description, r.status])).toEqual([
          ["adam", "keep"],
          ["norm", "keep"],
        ])
        expect(calls.map((c) => [c.purpose, c.error === null])).toEqual([
          ["code-search.propose", false],
          ["code-search.propose", true],
          ["code-search.propose", false],
          ["code-search.propose", true],
        ])
        const correction = server.requests[1]!.body.messages.at(-1).content as string
        expect(correction).toContain("Your previous reply could not be used")
        const firstPrompt = server.requests[0]!.body.messages.at(-1).content as string
        expect(firstPrompt).toContain("# Editable files")
        expect(firstPrompt).toContain('const OPTIMIZER = "sgd"')
        expect(firstPrompt).not.toContain("const noise") // readonly harness source is never sent
        expect(server.requests[0]!.body.response_format.type).toBe("json_schema")
      }))
  })
})
