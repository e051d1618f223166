/**
 * The promotion ladder: a code-search stage that continues an earlier one starts from its best commit and
 * re-validates the earlier stage's top kept edits at its own (usually longer) budget. Each check is an
 * ablation: the edit is reverted on top of the current best and judged like any candidate; if the revert
 * is kept, the edit did not hold at this budget and stays reverted. Runs once (rows are `promote`).
 */
import { Effect } from "effect"
import type { Edit } from "../../src/domain/Edit.ts"
import type { KeptEdit } from "../../src/domain/Handoff.ts"
import { Progress } from "../../src/services/Progress.ts"
import { currentIncumbent } from "./bookkeeping.ts"
import { applyChanges } from "../experiment-kit/edits.ts"
import type { RunPlacement } from "../experiment-kit/runner.ts"
import type { SearchRuntime } from "./runtime.ts"
import { runEditOnIncumbent } from "./settle.ts"

/** The inverse of an edit made of search/replace changes; undefined when it contains a rewrite. */
export const revertEdit = (edit: Edit): Edit | undefined => {
  if (edit.changes.some((change) => change.kind !== "replace")) return undefined
  return {
    direction: edit.direction,
    rationale: `re-validate "${edit.description}" at this stage's budget by reverting it`,
    description: `revert: ${edit.description}`,
    changes: [...edit.changes].reverse().map((change) => (change.kind === "replace" ? { ...change, search: change.replace, replace: change.search } : change)),
  }
}

export const runPromotions = (runtime: SearchRuntime, kept: ReadonlyArray<KeptEdit>, placement: RunPlacement) =>
  Effect.gen(function* () {
    const progress = yield* Progress
    const already = (yield* runtime.experiments).filter((e) => e.purpose === "promote")
    if (already.length > 0) return
    for (const item of kept.slice(0, runtime.settings.promoteTop)) {
      const revert = revertEdit(item.edit)
      const experiments = yield* runtime.experiments
      const incumbent = currentIncumbent(experiments, runtime.setup.baseCommit)
      const files = yield* runtime.filesAt(incumbent.commit)
      if (!revert || !applyChanges(files, revert.changes).ok) {
        yield* progress.emit({ runId: runtime.runId, stageId: runtime.stageId, kind: "promotion-skipped", message: `${runtime.stageName}: cannot re-validate "${item.description}" (its revert no longer applies)` })
        continue
      }
      if (!(yield* runtime.reserve)) return
      const settled = yield* runEditOnIncumbent(runtime, placement, { purpose: "promote", proposer: "promotion", offline: true, baseCommit: incumbent.commit, edit: revert })
      yield* progress.emit({
        runId: runtime.runId,
        stageId: runtime.stageId,
        kind: "promotion-checked",
        message: `${runtime.stageName}: "${item.description}" ${settled.status === "keep" ? "did not hold at this budget and was reverted" : settled.status === "discard" ? "holds at this budget" : `could not be checked (${settled.status})`}`,
      })
    }
  })
