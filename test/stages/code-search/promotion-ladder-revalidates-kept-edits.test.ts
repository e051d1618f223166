/**
 * The promotion ladder: a code-search stage after another one re-validates the earlier stage's top kept
 * edits at its own budget by running their reverts on the incumbent, settled by the same keep gate.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

describe("the promotion ladder", () => {
  it.live("reruns the earlier stage's top kept edit reverted, as a settled promote row", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        name: "ladder",
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
        executor: { kind: "local", gpus: "none" },
        stages: [
          // One candidate after the baselines, so the promote row is the text swap of that kept edit (a revert
          // by value after a later push is covered in promotion-reverts-by-value.test.ts).
          { kind: "code-search", name: "short", budget: { experiments: 3 } },
          { kind: "code-search", name: "long", budget: { experiments: 4 }, promoteTop: 1 },
        ],
      })
      const summary = yield* runPipeline(config).effect
      expect(summary.status).toBe("completed")
      const db = new Database(config.store, { readonly: true })
      const rows = db.prepare("SELECT s.name AS stage, e.purpose, e.proposer, e.status, e.description, e.edit_json FROM experiments e JOIN stages s ON s.id = e.stage_id ORDER BY s.position, e.seq").all() as Array<Record<string, any>>
      db.close()
      const kept = rows.filter((r) => r.stage === "short" && r.status === "keep")
      expect(kept.length, "the short stage kept something to promote").toBeGreaterThan(0)
      const promoted = rows.filter((r) => r.stage === "long" && r.purpose === "promote")
      expect(promoted).toHaveLength(1)
      expect(promoted[0]!.proposer).toBe("promotion")
      expect(["keep", "discard"]).toContain(promoted[0]!.status)
      // The promote row undoes one of the kept edits: each replace swapped back.
      const revert = JSON.parse(promoted[0]!.edit_json).changes as Array<{ search: string; replace: string }>
      const keptChanges = kept.flatMap((r) => JSON.parse(r.edit_json).changes as Array<{ search: string; replace: string }>)
      for (const change of revert) expect(keptChanges).toContainEqual(expect.objectContaining({ search: change.replace, replace: change.search }))
    }),
  )
})
