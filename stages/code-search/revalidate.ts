/**
 * Re-validating the outer stage's evidence: before it searches, a code-search stage that was handed edits
 * measured at a proxy budget runs the strongest of them (those whose proxy Δ is more than twice the proxy noise) at
 * its own budget, one at a time on top of the incumbent, through the normal keep gate — the way a
 * promotion ladder re-validates. A proxy Δ is evidence, not truth: an edit that does not hold is recorded
 * as not transferred and the move engine ranks its direction last. One whose evidence an earlier keep
 * made stale (it moves a step size, and a kept edit switched an optimizer since) is skipped. Each
 * re-validation is a `candidate` row of proposer `handoff` whose `scenario` is `handoff:<index in the
 * handoff>`, so a resumed stage continues with the ones not yet run.
 */
import { Effect } from "effect"
import type { Edit } from "../../src/domain/Edit.ts"
import type { Experiment } from "../../src/domain/Experiment.ts"
import type { HandedEdit } from "../../src/domain/Handoff.ts"
import { Progress } from "../../src/services/Progress.ts"
import { applyChanges } from "../experiment-kit/edits.ts"
import { editOfAssignments, movedBetween, staleEvidence } from "../experiment-kit/moves.ts"
import { findTunables } from "../experiment-kit/tunables/index.ts"
import type { RunPlacement } from "../experiment-kit/runner.ts"
import { currentIncumbent } from "./bookkeeping.ts"
import type { SearchRuntime } from "./runtime.ts"
import { runEditOnIncumbent } from "./settle.ts"

export const handoffScenario = (index: number) => `handoff:${index}`

/**
 * The handed edits worth a full-budget run, strongest first: a proxy Δ above twice the proxy noise (the Δ
 * is the difference of two proxy runs, and the strongest of many is the luckiest too).
 */
export const revalidationPlan = (edits: ReadonlyArray<HandedEdit>): Array<{ readonly index: number; readonly edit: HandedEdit }> =>
  edits
    .map((edit, index) => ({ index, edit }))
    .filter(({ edit }) => edit.proxyDelta !== null && edit.proxyDelta > 2 * edit.proxyNoise)
    .sort((a, b) => b.edit.proxyDelta! - a.edit.proxyDelta!)

const percent = (x: number | null) => (x === null ? "n/a" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}%`)

/** The handed edit as it applies to `files` (the incumbent's): tunables re-rendered, a code change as it was. */
export const renderHandedEdit = (item: HandedEdit, files: ReadonlyMap<string, string>): Edit | undefined => {
  const text = {
    direction: item.edit.direction || item.description,
    rationale: `${item.edit.rationale} [handed over by the outer stage: proxy Δ ${percent(item.proxyDelta)} at ${item.budgetSeconds} s over ${item.tries} run${item.tries === 1 ? "" : "s"}; re-validated at this stage's budget]`,
  }
  if (item.assignments.length > 0) return editOfAssignments(files, item.assignments, text)
  return applyChanges(files, item.edit.changes).ok ? { ...item.edit, ...text, description: item.edit.description } : undefined
}

/** Whether a re-validated edit held at the full budget: kept, or not (discarded, crashed...). */
export const transferOf = (row: Experiment): "held" | "did not hold" | "pending" =>
  row.status === "keep" ? "held" : row.status === "planned" || row.status === "running" || row.status === "measured" ? "pending" : "did not hold"

export const runRevalidations = (runtime: SearchRuntime, edits: ReadonlyArray<HandedEdit>, placement: RunPlacement) =>
  Effect.gen(function* () {
    const progress = yield* Progress
    const baseTunables = findTunables(yield* runtime.filesAt(runtime.setup.baseCommit))
    // Up to `revalidate` of them run, strongest first; one that is no longer the same move, or whose
    // evidence an earlier keep made stale (a step size measured before a switch of optimizer, or a switch
    // measured before a kept step-size change), is skipped.
    for (const { index, edit: item } of revalidationPlan(edits)) {
      const experiments = yield* runtime.experiments
      if (experiments.filter((row) => row.scenario?.startsWith("handoff:")).length >= runtime.settings.revalidate) return
      if (experiments.some((row) => row.scenario === handoffScenario(index))) continue
      const incumbent = currentIncumbent(experiments, runtime.setup.baseCommit)
      const files = yield* runtime.filesAt(incumbent.commit)
      const touched = item.assignments.map((a) => ({ name: a.name, categorical: (baseTunables.find((t) => t.name === a.name)?.value.kind ?? "number") !== "number" }))
      const stale = staleEvidence(touched, movedBetween(baseTunables, findTunables(files)))
      if (stale !== undefined) {
        yield* progress.emit({ runId: runtime.runId, stageId: runtime.stageId, kind: "handoff-skipped", message: `${runtime.stageName}: handed-over edit "${item.description}" is not re-validated: ${stale} (its proxy evidence is from another point)` })
        continue
      }
      const edit = renderHandedEdit(item, files)
      if (!edit) {
        yield* progress.emit({ runId: runtime.runId, stageId: runtime.stageId, kind: "handoff-skipped", message: `${runtime.stageName}: handed-over edit "${item.description}" is not the measured move on the incumbent any more (an earlier one changed what it touches)` })
        continue
      }
      if (!(yield* runtime.reserve)) return
      const settled = yield* runEditOnIncumbent(runtime, placement, {
        purpose: "candidate",
        scenario: handoffScenario(index),
        proposer: "handoff",
        offline: item.proposer === "offline",
        baseCommit: incumbent.commit,
        edit,
      })
      yield* progress.emit({
        runId: runtime.runId,
        stageId: runtime.stageId,
        kind: "handoff-revalidated",
        message: `${runtime.stageName}: handed-over edit "${item.description}" (proxy Δ ${percent(item.proxyDelta)} at ${item.budgetSeconds} s) ${transferOf(settled) === "held" ? "held" : "did not hold"} at ${runtime.settings.timeBudgetSeconds} s (${settled.status})`,
        data: { index, held: transferOf(settled) === "held", experimentId: settled.id },
      })
    }
  })
