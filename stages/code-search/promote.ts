/**
 * The promotion ladder: a code-search stage that continues an earlier one starts from its best commit and
 * re-validates the earlier stage's top kept edits at its own (usually longer) budget. Each check is an
 * ablation: the edit is reverted on top of the current best and judged like any candidate; if the revert
 * is kept, the edit did not hold at this budget and stays reverted. Runs once (rows are `promote`).
 *
 * An edit that only set tunables is reverted by value: its tunables go back to what they were before it,
 * even where a later keep moved them further (the ablation then undoes the whole push). Any other edit is
 * reverted by swapping its text back, which needs the lines it wrote to be there still.
 */
import { Effect } from "effect"
import type { Edit } from "../../src/domain/Edit.ts"
import type { KeptEdit } from "../../src/domain/Handoff.ts"
import { Progress } from "../../src/services/Progress.ts"
import { currentIncumbent } from "./bookkeeping.ts"
import { applyChanges } from "../experiment-kit/edits.ts"
import { findTunables, tunableChanges } from "../experiment-kit/tunables/index.ts"
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

/**
 * The edit that undoes `edit` on the incumbent's files, given the files it produced (`after`); undefined
 * when it cannot be undone there or there is nothing left to undo.
 */
export const revertOnIncumbent = (edit: Edit, after: ReadonlyMap<string, string>, incumbent: ReadonlyMap<string, string>): Edit | undefined => {
  const swapped = revertEdit(edit)
  if (!swapped) return undefined
  const undone = applyChanges(after, swapped.changes)
  if (undone.ok) {
    const before: ReadonlyMap<string, string> = new Map([...after, ...undone.files])
    const moved = tunableChanges(before, after)
    const tunablesBefore = findTunables(before)
    const redone = moved.length > 0 ? applyChanges(before, moved.map((m) => tunablesBefore.find((t) => t.file === m.file && t.name === m.name)!.change(m.to))) : undefined
    const rebuilt: ReadonlyMap<string, string> | undefined = redone?.ok ? new Map([...before, ...redone.files]) : undefined
    const onlyTunables = rebuilt !== undefined && [...after].every(([file, content]) => rebuilt.get(file) === content)
    const current = onlyTunables ? findTunables(incumbent) : []
    const onIncumbent = moved.map((m) => ({ move: m, tunable: current.find((t) => t.file === m.file && t.name === m.name) }))
    if (onlyTunables && onIncumbent.every((o) => o.tunable !== undefined)) {
      const back = onIncumbent.filter((o) => o.tunable!.value.text !== o.move.from)
      if (back.length === 0) return undefined
      const changes = back.map((o) => o.tunable!.change(o.move.from))
      if (!applyChanges(incumbent, changes).ok) return undefined
      return {
        direction: edit.direction,
        rationale: `re-validate "${edit.description}" at this stage's budget by setting its values back`,
        description: `revert: ${back.map((o) => `${o.tunable!.name} ${o.tunable!.value.text} -> ${o.move.from}`).join(", ")}`,
        changes,
      }
    }
  }
  return applyChanges(incumbent, swapped.changes).ok ? swapped : undefined
}

export const runPromotions = (runtime: SearchRuntime, kept: ReadonlyArray<KeptEdit>, placement: RunPlacement) =>
  Effect.gen(function* () {
    const progress = yield* Progress
    const already = (yield* runtime.experiments).filter((e) => e.purpose === "promote")
    if (already.length > 0) return
    for (const item of kept.slice(0, runtime.settings.promoteTop)) {
      const experiments = yield* runtime.experiments
      const incumbent = currentIncumbent(experiments, runtime.setup.baseCommit)
      const files = yield* runtime.filesAt(incumbent.commit)
      const revert = revertOnIncumbent(item.edit, yield* runtime.filesAt(item.commit), files)
      if (!revert) {
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
