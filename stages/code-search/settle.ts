/**
 * Settling a measured candidate: confirm reruns while the keep rule asks for them (and the budget pays),
 * then keep (commit on the worker's branch, new incumbent) or discard. A candidate that would be kept but
 * whose base is no longer the incumbent (another worker kept something meanwhile) is re-run on top of the
 * new incumbent as a `rebase` experiment. Resumable: the state lives in the rows (unfinished confirm rows
 * are re-run, finished ones counted).
 */
import { Effect, Ref, Semaphore } from "effect"
import type { Edit } from "../../src/domain/Edit.ts"
import type { Experiment, ExperimentPurpose, Judgement } from "../../src/domain/Experiment.ts"
import type { WorkspaceError } from "../../src/domain/errors.ts"
import type { Executor } from "../../src/services/Executor.ts"
import { Store } from "../../src/services/Store.ts"
import { Workspace } from "../../src/services/Workspace.ts"
import { currentIncumbent, isUnfinished, makerAt, measuredAt, noiseGroups, remeasurePrefix, runsOf } from "./bookkeeping.ts"
import { applyEditGuarded, cleanWorktree, type RunPlacement } from "../experiment-kit/runner.ts"
import { judge, pooledNoise } from "./keepRule.ts"
import type { SearchRuntime } from "./runtime.ts"
import { failpoint } from "../../src/services/failpoints.ts"

type SettleServices = Store | Workspace | Executor

const finalJudgement = (judgement: Judgement, verdict: "keep" | "discard", reason: string): Judgement => ({ ...judgement, verdict, reason })

/** Judges, confirms and keeps or discards one measured candidate (or rebase/promote) row. */
export const settle = (runtime: SearchRuntime, row: Experiment, placement: RunPlacement): Effect.Effect<Experiment, WorkspaceError, SettleServices> =>
  settleRow(runtime, row, placement).pipe(Effect.tap((final) => (final.id === row.id && row.status !== "measured" ? Effect.void : runtime.report(final))))

/** An edit of the incumbent, planned as a row at this stage's budget, run, and settled like any candidate. */
export const runEditOnIncumbent = (
  runtime: SearchRuntime,
  placement: RunPlacement,
  plan: { readonly purpose: ExperimentPurpose; readonly proposer: string; readonly offline: boolean; readonly scenario?: string; readonly baseCommit: string; readonly edit: Edit },
): Effect.Effect<Experiment, WorkspaceError, SettleServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const { edit, ...row } = plan
    const planned = yield* store.experiments.planExperiment({
      ...row,
      stageId: runtime.stageId,
      worker: placement.worktree.worker,
      direction: edit.direction,
      rationale: edit.rationale,
      description: edit.description,
      edit,
      seed: runtime.settings.seed,
      timeBudget: runtime.settings.timeBudgetSeconds,
    })
    return yield* settle(runtime, yield* runtime.runRow(planned, placement), placement)
  })

const settleRow = (runtime: SearchRuntime, row: Experiment, placement: RunPlacement): Effect.Effect<Experiment, WorkspaceError, SettleServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const workspace = yield* Workspace
    const { settings, target } = runtime
    let candidate = row
    for (;;) {
      if (candidate.status !== "measured") return candidate
      let experiments = yield* runtime.experiments
      const confirms = experiments.filter((e) => e.parentId === candidate.id && e.purpose === "confirm")
      for (const confirm of confirms.filter(isUnfinished)) yield* runtime.runRow(confirm, placement)
      // A re-measurement of the incumbent a killed process left unfinished runs before the judgement it was for.
      for (const remeasure of experiments.filter((e) => e.purpose === "confirm" && isUnfinished(e) && e.description?.startsWith(remeasurePrefix))) yield* runtime.runRow(remeasure, placement)
      experiments = yield* runtime.experiments
      const finishedConfirms = experiments.filter((e) => e.parentId === candidate.id && e.purpose === "confirm" && !isUnfinished(e))
      const crashedConfirm = finishedConfirms.find((e) => e.status !== "measured")
      const base = candidate.baseCommit ?? runtime.setup.baseCommit
      // The incumbent as it measured around the candidate's time: its runs within `remeasureEvery`
      // experiments of the candidate's, else its newest ones (with drift checks off: all of them).
      const incumbentAll = measuredAt(experiments, base, runtime.setup.baseCommit)
      const recent = incumbentAll?.filter((run) => settings.remeasureEvery === 0 || run.seq >= candidate.seq - settings.remeasureEvery)
      const incumbentRuns = !incumbentAll
        ? currentIncumbent(experiments, runtime.setup.baseCommit).runs
        : (recent && recent.length > 0 ? recent : incumbentAll.slice(-Math.max(2, settings.baselineRuns))).map((run) => run.metric)
      const noise = pooledNoise(noiseGroups(experiments))
      const judgement = judge(
        {
          direction: target.metric.direction,
          incumbentRuns,
          candidateRuns: runsOf(experiments, candidate),
          noise,
          confirmsDone: finishedConfirms.length,
          canConfirm: !crashedConfirm && (yield* runtime.remaining) > 0,
        },
        settings,
      )
      // A decision that commits (confirm runs, a keep) waits for a fresh measurement of a stale incumbent.
      const newest = incumbentAll?.at(-1)?.seq
      const latest = Math.max(0, ...experiments.map((e) => e.seq))
      const maker = makerAt(experiments, base, runtime.setup.baseCommit)
      if (!crashedConfirm && judgement.verdict !== "discard" && settings.remeasureEvery > 0 && newest !== undefined && maker && latest - newest > settings.remeasureEvery && (yield* runtime.reserve)) {
        const remeasure = yield* store.experiments.planExperiment({
          stageId: runtime.stageId,
          worker: placement.worktree.worker,
          purpose: "confirm",
          parentId: maker.id,
          proposer: candidate.proposer,
          offline: candidate.offline,
          baseCommit: base,
          description: `${remeasurePrefix} before judging #${candidate.seq} (its newest run was ${latest - newest} experiments ago)`,
          seed: settings.seed + 100 + (incumbentAll?.length ?? 0),
          timeBudget: candidate.timeBudget,
        })
        yield* runtime.runRow(remeasure, placement)
        continue
      }
      if (crashedConfirm) {
        yield* store.experiments.judgeExperiment(candidate.id, "discard", finalJudgement(judgement, "discard", `confirm run #${crashedConfirm.seq} ended ${crashedConfirm.status}: ${crashedConfirm.reason ?? ""}`), null)
        return (yield* store.experiments.getExperiment(candidate.id))!
      }
      if (judgement.verdict === "confirm") {
        if (!(yield* runtime.reserve)) continue
        const confirm = yield* store.experiments.planExperiment({
          stageId: runtime.stageId,
          worker: placement.worktree.worker,
          purpose: "confirm",
          parentId: candidate.id,
          proposer: candidate.proposer,
          offline: candidate.offline,
          baseCommit: base,
          direction: candidate.direction,
          rationale: candidate.rationale,
          description: `${candidate.description ?? ""} (confirm ${finishedConfirms.length + 1})`,
          edit: candidate.edit,
          seed: settings.seed + finishedConfirms.length + 1,
          timeBudget: candidate.timeBudget,
        })
        yield* runtime.runRow(confirm, placement)
        continue
      }
      if (judgement.verdict === "discard") {
        yield* store.experiments.judgeExperiment(candidate.id, "discard", judgement, null)
        return (yield* store.experiments.getExperiment(candidate.id))!
      }
      // keep: only on top of the current incumbent
      const outcome = yield* Semaphore.withPermit(
        runtime.incumbentLock,
        Effect.gen(function* () {
          const now = yield* runtime.experiments
          const incumbent = currentIncumbent(now, runtime.setup.baseCommit)
          if (incumbent.commit !== base) return { stale: true as const, incumbent }
          yield* cleanWorktree(runtime.runner, placement.worktree, base)
          if (candidate.edit) {
            const applied = yield* applyEditGuarded(runtime.runner, placement.worktree, candidate.edit, base)
            if (!applied.ok) return { stale: false as const, failed: applied.reason }
          }
          const message = `twoloop: ${candidate.description ?? "improvement"}\n\n${target.metric.name} ${judgement.candidateMean} vs ${judgement.incumbent} (${judgement.reason})\nexperiment #${candidate.seq} of stage ${runtime.stageName}`
          const commit = yield* workspace.commitPaths(placement.worktree, target.editable, message)
          runtime.runner.heads.set(placement.worktree.root, commit)
          yield* failpoint("kept-commit")
          yield* store.experiments.judgeExperiment(candidate.id, "keep", judgement, commit)
          return { stale: false as const, commit }
        }),
      )
      if ("failed" in outcome) {
        yield* store.experiments.judgeExperiment(candidate.id, "discard", finalJudgement(judgement, "discard", `could not re-apply the edit to commit it: ${outcome.failed}`), null)
        return (yield* store.experiments.getExperiment(candidate.id))!
      }
      if (!outcome.stale) return (yield* store.experiments.getExperiment(candidate.id))!
      // The incumbent moved while this candidate ran: re-run the idea on top of it.
      const reserved = yield* runtime.reserve
      const note = reserved ? "re-run on top of the new incumbent" : "no budget left to re-run it on top of the new incumbent"
      yield* store.experiments.judgeExperiment(candidate.id, "discard", finalJudgement(judgement, "discard", `improved on its base, but the incumbent moved during the run; ${note}`), null)
      if (!reserved) return (yield* store.experiments.getExperiment(candidate.id))!
      yield* runtime.report((yield* store.experiments.getExperiment(candidate.id))!)
      yield* Ref.update(runtime.rebasedRuns, (n) => n + 1)
      const rebase = yield* store.experiments.planExperiment({
        stageId: runtime.stageId,
        worker: placement.worktree.worker,
        purpose: "rebase",
        parentId: candidate.id,
        proposer: candidate.proposer,
        offline: candidate.offline,
        baseCommit: outcome.incumbent.commit,
        direction: candidate.direction,
        rationale: candidate.rationale,
        description: candidate.description,
        edit: candidate.edit,
        seed: settings.seed,
        timeBudget: candidate.timeBudget,
      })
      candidate = yield* runtime.runRow(rebase, placement)
    }
  })
