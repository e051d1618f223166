import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Fiber } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { configFor, makeProject, resumePipeline, runPipeline } from "../../support/pipeline.ts"

const rowsOf = (store: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT * FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
  const runs = db.prepare("SELECT * FROM runs").all() as Array<Record<string, any>>
  db.close()
  return { rows, runs }
}

const countRows = (store: string) => {
  try {
    const db = new Database(store, { readonly: true, fileMustExist: true })
    const n = (db.prepare("SELECT COUNT(*) AS n FROM experiments WHERE status NOT IN ('planned','running')").get() as { n: number }).n
    db.close()
    return n
  } catch {
    return 0
  }
}

describe("interrupting and resuming code search", () => {
  for (const cut of [1, 3, 6]) {
    it.live(`resumes after an interruption with ${cut} experiments done and ends with the uninterrupted bookkeeping`, () =>
      Effect.gen(function* () {
        const { root } = makeProject("quadratic-target", { git: true })
        const config = configFor(root, {
          target: {
            dir: "target",
            editable: ["train.mjs"],
            readonly: ["prepare.mjs"],
            command: "node train.mjs",
            metric: { name: "loss", direction: "minimize" },
            timeBudgetSeconds: 5,
            env: { FIXTURE_SLEEP_MS: "80" },
          },
          executor: { kind: "local", gpus: "none" },
          stages: [{ kind: "code-search", name: "inner", budget: { experiments: 10 } }],
        })
        const first = runPipeline(config)
        const fiber = yield* Effect.forkChild(first.effect)
        while (countRows(config.store) < cut) yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)
        const interrupted = rowsOf(config.store)
        expect(interrupted.runs[0]!.status).toBe("interrupted")
        const runId = interrupted.runs[0]!.id as string

        const resumed = yield* resumePipeline(config, runId).effect
        expect(resumed.status).toBe("completed")
        const { rows, runs } = rowsOf(config.store)
        expect(runs[0]!.status).toBe("completed")
        // the budget is spent exactly once: no lost and no doubled experiments
        expect(rows).toHaveLength(10)
        expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        // nothing left unfinished, and every candidate judged (baselines stay "measured": they are not judged)
        const open = rows.filter((r) => ["planned", "running"].includes(r.status) || (r.status === "measured" && r.purpose !== "baseline" && r.purpose !== "confirm"))
        expect(open.map((r) => `${r.seq} ${r.purpose} ${r.status}`)).toEqual([])
        expect(rows.filter((r) => r.purpose === "baseline")).toHaveLength(2)
        // the worktree HEAD is the recorded best
        const summary = resumed.stages[0]!.summary as Record<string, any>
        const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: path.join(resumed.runDir, "worktrees", "inner-w0"), encoding: "utf8" }).trim()
        expect(head).toBe(summary.bestCommit)
        const kept = rows.filter((r) => r.status === "keep")
        expect(kept.at(-1)?.result_commit ?? summary.bestCommit).toBe(summary.bestCommit)
        expect(summary.best).toBeLessThan(summary.baseline)
      }))
  }
})
