/**
 * A shared machine that gets faster halfway through a stage makes every later run look better. The target
 * here changes nothing the search can move, so any kept edit is a false gain: with the incumbent re-measured
 * before decisions (and judged against its recent runs) nothing is kept and the drift is reported; with the
 * drift checks off the same search keeps an edit that does nothing.
 */
import { it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

const run = (remeasureEvery: number) =>
  Effect.gen(function* () {
    const { root } = makeProject("drifting-target", { git: true })
    const config = configFor(root, {
      model: "offline",
      seed: 0,
      target: {
        dir: "target",
        editable: ["train.mjs"],
        readonly: ["harness.mjs"],
        command: "node train.mjs",
        metric: { name: "loss", direction: "minimize" },
        timeBudgetSeconds: 5,
        env: { DRIFT_COUNTER: path.join(root, "drift-counter") },
      },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 10 }, confirmRuns: 2, remeasureEvery, pipelining: false }],
    })
    const summary = yield* runPipeline(config).effect
    const db = new Database(config.store, { readonly: true })
    const rows = db.prepare("SELECT seq, purpose, status, description FROM experiments ORDER BY seq").all() as Array<{ seq: number; purpose: string; status: string; description: string }>
    db.close()
    return { rows, summary: summary.stages[0]!.summary as { kept: number; drift: { remeasures: number; largest: number | null } } }
  })

describe("a drifting machine", () => {
  it.effect("re-measures the stale incumbent, keeps nothing that does nothing, and reports the drift", () =>
    Effect.gen(function* () {
      const checked = yield* run(1)
      expect(checked.rows.filter((r) => r.status === "keep")).toEqual([])
      const remeasures = checked.rows.filter((r) => r.description.startsWith("re-measure the incumbent"))
      expect(remeasures.length).toBeGreaterThan(0)
      expect(checked.summary.drift.remeasures).toBe(remeasures.length)
      expect(checked.summary.drift.largest).toBeCloseTo(-0.1, 2)

      const unchecked = yield* run(0)
      expect(unchecked.rows.filter((r) => r.status === "keep").length).toBeGreaterThan(0)
      expect(unchecked.summary.drift.remeasures).toBe(0)
    }),
  )
})
