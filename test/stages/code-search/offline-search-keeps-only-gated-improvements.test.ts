import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

const baseConfig = (target: string, stage: Record<string, unknown> = {}) => ({
  name: "quadratic",
  target: {
    dir: target,
    editable: ["train.mjs"],
    readonly: ["prepare.mjs"],
    command: "node train.mjs",
    metric: { name: "loss", direction: "minimize" },
    timeBudgetSeconds: 5,
  },
  executor: { kind: "local", gpus: "none", cpuSlots: 2 },
  stages: [{ kind: "code-search", name: "inner", budget: { experiments: 14 }, ...stage }],
})

describe("code-search with the offline proposer", () => {
  it.live("improves the fixture, keeps only gated improvements, commits them and writes results.tsv", () =>
    Effect.gen(function* () {
      const { root, target } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, baseConfig("target"))
      const run = runPipeline(config)
      const summary = yield* run.effect
      expect(summary.status).toBe("completed")
      const stage = summary.stages[0]!
      const result = stage.summary as Record<string, any>
      expect(result.offline).toBe(true)
      expect(result.baseline).toBeGreaterThan(2)
      expect(result.best).toBeLessThan(result.baseline - 0.2)
      expect(result.experiments).toBe(14)

      const db = new Database(config.store, { readonly: true })
      const rows = db.prepare("SELECT * FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
      db.close()
      expect(rows.length).toBe(14)
      for (const row of rows.filter((r) => r.status === "keep")) {
        const judgement = JSON.parse(row.judgement_json)
        expect(judgement.improvement).toBeGreaterThan(judgement.gate)
        expect(row.result_commit).toMatch(/^[0-9a-f]{40}$/)
      }
      for (const row of rows.filter((r) => r.status === "discard" && r.purpose === "candidate")) {
        const judgement = JSON.parse(row.judgement_json)
        expect(judgement.improvement).toBeLessThanOrEqual(judgement.gate)
      }
      expect(rows.filter((r) => r.purpose === "baseline").map((r) => r.seed)).toEqual([0, 1])
      expect(rows.every((r) => r.offline === 1 && r.proposer === "offline")).toBe(true)

      // kept improvements are commits on the worker branch; the user's checkout is untouched
      const branch = `twoloop/${summary.runId}/inner-w0`
      const log = execFileSync("git", ["log", "--format=%s", branch], { cwd: root, encoding: "utf8" })
      expect(log.split("\n").filter((l) => l.startsWith("twoloop:")).length).toBe(result.kept)
      expect(fs.readFileSync(path.join(target, "train.mjs"), "utf8")).toContain("LEARNING_RATE = 0.01")
      // only the test's own config file is new; the store and runs are git-ignored
      expect(execFileSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).trim()).toBe("?? pipeline.config.json")

      const tsv = fs.readFileSync(result.resultsFile, "utf8").trim().split("\n")
      expect(tsv[0]).toBe("commit\tloss\tstatus\tseconds\tdirection\tdescription")
      expect(tsv.length).toBe(15)
      expect(run.lines.some((l) => l.includes("[offline]"))).toBe(true)
      if (process.env.SHOW_LINES) console.log(run.lines.join("\n"))
    }))

  it.live("works on a target outside git through a private repository", () =>
    Effect.gen(function* () {
      const { root, target } = makeProject("quadratic-target")
      const config = configFor(root, baseConfig("target", { budget: { experiments: 6 } }))
      const summary = yield* runPipeline(config).effect
      const result = summary.stages[0]!.summary as Record<string, any>
      expect(result.repo).toBe(path.join(summary.runDir, "repo"))
      expect(result.kept).toBeGreaterThan(0)
      expect(fs.existsSync(path.join(target, ".git"))).toBe(false)
    }))
})
