/**
 * The inner loop. Baselines first (repeated with different seeds, spread over the slots), then one worker
 * per slot, each on its own worktree:
 *   propose → plan the row → run it (while the next proposal is prepared) → settle (judge/confirm/keep)
 * Workers share the incumbent through the store. A prepared proposal whose base is no longer the incumbent
 * is rebased when its edit still applies, else discarded (both are recorded as events). The stage ends
 * when the budget is spent, a stop is requested, or no worker has anything left to propose. Rows left
 * planned or running by a killed process are re-run in place first, after killing their orphans.
 */
import { Effect, Fiber, Ref } from "effect"
import * as fs from "node:fs"
import type { Experiment } from "../../src/domain/Experiment.ts"
import { StageFailed, type WorkspaceError } from "../../src/domain/errors.ts"
import { makeRng } from "../../src/common/rng.ts"
import { Executor } from "../../src/services/Executor.ts"
import type { Llm } from "../../src/services/Llm.ts"
import { Progress } from "../../src/services/Progress.ts"
import { Store } from "../../src/services/Store.ts"
import type { Workspace } from "../../src/services/Workspace.ts"
import { baselineRuns, currentIncumbent, inFlight, isUnfinished, movesOf, noiseGroups, recentExperiments } from "./bookkeeping.ts"
import { applyChanges } from "../experiment-kit/edits.ts"
import { killOrphans, type RunPlacement } from "../experiment-kit/runner.ts"
import { keepGate, pooledNoise } from "./keepRule.ts"
import type { ProposalResult, Proposer } from "../experiment-kit/proposers.ts"
import type { SearchRuntime } from "./runtime.ts"
import { settle } from "./settle.ts"
import { failpoint } from "../../src/services/failpoints.ts"
import { mean } from "../../src/common/stats.ts"
import { seedsIgnoredWarning, seedsLookIgnored } from "../experiment-kit/seeds.ts"

type SearchServices = Store | Workspace | Executor | Llm | Progress

export interface SearchControl {
  /** True once the run should stop taking new work (signal, stop file, time budget). */
  readonly stopping: Effect.Effect<boolean>
  readonly proposer: Proposer
  /** Extra guidance for the agent, from the stage's rows (e.g. how the handed-over edits fared here). */
  readonly note?: (experiments: ReadonlyArray<Experiment>) => string | undefined
}

interface Prepared {
  readonly baseCommit: string
  readonly result: ProposalResult
}

const placementOf = (runtime: SearchRuntime, worker: number): RunPlacement => ({
  worktree: runtime.setup.worktrees[worker % runtime.setup.worktrees.length]!,
  slot: runtime.slots[worker % runtime.slots.length]!,
})

/** Kills what a dead process left running and re-runs unfinished rows; settles rows awaiting judgement. */
const recover = (runtime: SearchRuntime) =>
  Effect.gen(function* () {
    const store = yield* Store
    const rows = yield* runtime.experiments
    yield* killOrphans(runtime, rows)
    const pending = rows.filter((e) => e.purpose !== "baseline" && e.purpose !== "confirm" && (isUnfinished(e) || e.status === "measured"))
    yield* Effect.forEach(
      pending,
      (row) =>
        Effect.gen(function* () {
          const placement = placementOf(runtime, row.worker)
          const measured = isUnfinished(row) ? yield* runtime.runRow(row, placement) : row
          yield* settle(runtime, measured, placement)
        }),
      { concurrency: 1, discard: true },
    )
    return yield* store.experiments.listExperiments(runtime.stageId)
  })

const runBaselines = (runtime: SearchRuntime, control: SearchControl) =>
  Effect.gen(function* () {
    const store = yield* Store
    const { settings } = runtime
    let rows = (yield* runtime.experiments).filter((e) => e.purpose === "baseline")
    for (let j = rows.length; j < settings.baselineRuns; j++) {
      if (!(yield* runtime.reserve)) break
      rows = [
        ...rows,
        yield* store.experiments.planExperiment({
          stageId: runtime.stageId,
          worker: j % runtime.setup.worktrees.length,
          purpose: "baseline",
          proposer: control.proposer.name,
          offline: control.proposer.offline,
          baseCommit: runtime.setup.baseCommit,
          description: `baseline (seed ${settings.seed + j})`,
          seed: settings.seed + j,
          timeBudget: settings.timeBudgetSeconds,
        }),
      ]
    }
    const measuring = rows.filter(isUnfinished)
    yield* Effect.forEach(
      measuring,
      (row) => runtime.runRow(row, placementOf(runtime, row.worker)),
      { concurrency: runtime.setup.worktrees.length, discard: true },
    )
    const all = yield* runtime.experiments
    const baselines = all.filter((e) => e.purpose === "baseline" && e.status === "measured")
    if (measuring.length > 0 && seedsLookIgnored(baselines)) {
      const progress = yield* Progress
      yield* progress.emit({ runId: runtime.runId, stageId: runtime.stageId, kind: "seeds-ignored", message: seedsIgnoredWarning(runtime.stageName, runtime.target.metric.name, baselines) })
    }
    if (baselineRuns(all).length === 0) {
      const failed = all.find((e) => e.purpose === "baseline")
      return yield* new StageFailed({
        stage: runtime.stageName,
        message: failed
          ? `${runtime.stageName}: the baseline run ${failed.status === "rejected" ? "was rejected" : "failed"} (${failed.reason ?? failed.status})${failed.logPath ? `; log: ${failed.logPath}` : ""}`
          : `${runtime.stageName}: the experiment budget leaves no room for a baseline run`,
      })
    }
  })

/** One worker's loop. `active` counts workers with an experiment in flight (for exhaustion). */
const worker = (runtime: SearchRuntime, control: SearchControl, index: number, active: Ref.Ref<number>): Effect.Effect<void, WorkspaceError | StageFailed, SearchServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const progress = yield* Progress
    const placement = placementOf(runtime, index)
    const { settings, proposer } = { settings: runtime.settings, proposer: control.proposer }
    const initialFiles = yield* runtime.filesAt(runtime.setup.baseCommit)
    let prepared: Fiber.Fiber<Prepared, never> | undefined
    let fix: { row: Experiment; attempt: number } | undefined
    let llmFailures = 0

    const prepare = (crash?: { row: Experiment; attempt: number }) =>
      Effect.gen(function* () {
        const experiments = yield* runtime.experiments
        const incumbent = currentIncumbent(experiments, runtime.setup.baseCommit)
        const files = yield* runtime.filesAt(incumbent.commit).pipe(Effect.orDie)
        const { history, pending } = movesOf(experiments, runtime.setup.baseCommit, initialFiles)
        const noise = pooledNoise(noiseGroups(experiments))
        const gate = keepGate(settings, noise.sigma, 1, Math.max(1, incumbent.runs.length))
        const result = yield* proposer.propose({
          worker: index,
          incumbent: { commit: incumbent.commit, metric: mean(incumbent.runs), runs: incumbent.runs.length },
          files,
          history,
          recent: recentExperiments(experiments, settings.historyWindow),
          pendingMoves: pending,
          pendingDescriptions: inFlight(experiments).map((e) => e.description ?? ""),
          noiseSigma: noise.sigma,
          gate,
          rng: makeRng(settings.seed * 1_000_003 + experiments.length * 31 + index),
          ...(control.note?.(experiments) ? { note: control.note(experiments)! } : {}),
          ...(crash?.row.edit
            ? { crash: { edit: crash.row.edit, logTail: crash.row.logTail ?? "", attempt: crash.attempt, maxAttempts: settings.fixAttempts } }
            : {}),
        })
        return { baseCommit: incumbent.commit, result } satisfies Prepared
      })

    for (;;) {
      if (yield* control.stopping) break
      if (!prepared && (yield* runtime.remaining) <= 0) break
      const next = fix ? yield* prepare(fix) : prepared ? yield* Fiber.join(prepared) : yield* prepare()
      const fixing = fix
      fix = undefined
      if (!fixing) prepared = undefined
      if (next.result._tag === "Exhausted") {
        if ((yield* Ref.get(active)) > 0) {
          yield* Effect.sleep("200 millis")
          continue
        }
        yield* progress.emit({ runId: runtime.runId, stageId: runtime.stageId, kind: "search-exhausted", message: `${runtime.stageName} w${index}: nothing left to try at the current point` })
        break
      }
      if (!(yield* runtime.reserve)) break
      const experiments = yield* runtime.experiments
      const incumbent = currentIncumbent(experiments, runtime.setup.baseCommit)
      if (next.result._tag === "Failed") {
        llmFailures += 1
        const row = yield* store.experiments.planExperiment({
          stageId: runtime.stageId,
          worker: index,
          purpose: "candidate",
          proposer: proposer.name,
          offline: proposer.offline,
          baseCommit: incumbent.commit,
          description: "failed proposal",
          seed: settings.seed,
          timeBudget: settings.timeBudgetSeconds,
        })
        yield* store.experiments.finishExperiment(row.id, { status: "rejected", reason: `proposal failed: ${next.result.reason}`, logTail: next.result.raw?.slice(0, 4000) ?? null, seconds: 0 })
        yield* runtime.report((yield* store.experiments.getExperiment(row.id))!)
        if (llmFailures >= 3) return yield* new StageFailed({ stage: runtime.stageName, message: `${runtime.stageName}: 3 proposals in a row failed; last: ${next.result.reason}` })
        continue
      }
      llmFailures = 0
      let base = next.baseCommit
      const edit = next.result.edit
      if (base !== incumbent.commit) {
        const files = yield* runtime.filesAt(incumbent.commit)
        const rebased = applyChanges(files, edit.changes).ok
        yield* progress.emit({
          runId: runtime.runId,
          stageId: runtime.stageId,
          kind: rebased ? "proposal-rebased" : "proposal-discarded",
          message: `${runtime.stageName} w${index}: prepared proposal "${edit.description}" ${rebased ? "rebased onto" : "discarded: it does not apply to"} the new incumbent ${incumbent.commit.slice(0, 7)}`,
          data: { edit },
        })
        if (!rebased) {
          yield* runtime.unreserve
          continue
        }
        base = incumbent.commit
      }
      const row = yield* store.experiments.planExperiment({
        stageId: runtime.stageId,
        worker: index,
        purpose: "candidate",
        parentId: fixing?.row.id ?? null,
        proposer: proposer.name,
        offline: proposer.offline,
        baseCommit: base,
        direction: edit.direction,
        rationale: edit.rationale,
        description: edit.description,
        edit,
        seed: settings.seed,
        timeBudget: settings.timeBudgetSeconds,
      })
      yield* failpoint("proposal-planned")
      yield* Ref.update(active, (n) => n + 1)
      // Prepare the next proposal while this one runs, unless nothing would be left to spend it on.
      if (settings.pipelining && !prepared && (yield* runtime.remaining) > 0) prepared = yield* Effect.forkChild(prepare())
      const measured = yield* runtime.runRow(row, placement)
      const settled = yield* settle(runtime, measured, placement)
      yield* Ref.update(active, (n) => n - 1)
      const attempt = (fixing?.attempt ?? 0) + 1
      if ((settled.status === "crash" || settled.status === "timeout") && proposer.fixesCrashes && attempt <= settings.fixAttempts) fix = { row: settled, attempt }
    }
    if (prepared) yield* Fiber.interrupt(prepared)
  })

export const runSearch = (runtime: SearchRuntime, control: SearchControl, beforeWorkers: Effect.Effect<void, WorkspaceError | StageFailed, SearchServices> = Effect.void) =>
  Effect.gen(function* () {
    yield* recover(runtime)
    yield* runBaselines(runtime, control)
    yield* beforeWorkers
    const active = yield* Ref.make(0)
    yield* Effect.forEach(
      runtime.setup.worktrees.map((w) => w.worker),
      (index) => worker(runtime, control, index, active),
      { concurrency: "unbounded", discard: true },
    )
  })

export const stopFileExists = (file: string) => Effect.sync(() => fs.existsSync(file))
