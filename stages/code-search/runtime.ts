/**
 * The state a code-search stage's workers share while it runs: settings, the workspace, the experiment
 * budget (reserved before a row is planned, so it is never exceeded with several workers), the incumbent
 * lock, and `runRow`, which runs a row and then reports it (progress line, results.tsv).
 */
import { Effect, Ref, Semaphore } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResolvedTarget } from "../../src/config.ts"
import type { Experiment } from "../../src/domain/Experiment.ts"
import type { WorkspaceError } from "../../src/domain/errors.ts"
import type { Executor, Slot } from "../../src/services/Executor.ts"
import { Progress } from "../../src/services/Progress.ts"
import { Store } from "../../src/services/Store.ts"
import type { Workspace, WorkspaceSetup } from "../../src/services/Workspace.ts"
import { type RunnerContext, type RunPlacement, runExperiment } from "../experiment-kit/runner.ts"
import { currentIncumbent } from "./bookkeeping.ts"
import type { CodeSearchSettings } from "./options.ts"
import { writeResultsTsv } from "./resultsTsv.ts"

export interface SearchRuntime {
  readonly runId: string
  readonly stageId: number
  readonly stageName: string
  readonly settings: CodeSearchSettings
  readonly target: ResolvedTarget
  readonly setup: WorkspaceSetup
  readonly slots: ReadonlyArray<Slot>
  readonly runner: RunnerContext
  readonly proposerLabel: string
  readonly incumbentLock: Semaphore.Semaphore
  readonly rebasedRuns: Ref.Ref<number>
  readonly experiments: Effect.Effect<ReadonlyArray<Experiment>>
  /** Takes one unit of the experiment budget; false when it is spent. */
  readonly reserve: Effect.Effect<boolean>
  readonly unreserve: Effect.Effect<void>
  readonly remaining: Effect.Effect<number>
  readonly runRow: (row: Experiment, placement: RunPlacement) => Effect.Effect<Experiment, WorkspaceError, Store | Workspace | Executor>
  /** Reports a row that ended without running (rejected before the run, failed proposal). */
  readonly report: (row: Experiment) => Effect.Effect<void>
  readonly filesAt: (commit: string) => Effect.Effect<ReadonlyMap<string, string>, WorkspaceError>
  readonly resultsFile: string
}

const judgedPurposes = new Set(["candidate", "rebase", "promote"])

const show = (value: number | null | undefined) => (value === null || value === undefined ? "-" : Number(value.toPrecision(5)).toString())

export const makeRuntime = (init: {
  readonly runId: string
  readonly stageId: number
  readonly stageName: string
  readonly settings: CodeSearchSettings
  readonly target: ResolvedTarget
  readonly setup: WorkspaceSetup
  readonly slots: ReadonlyArray<Slot>
  readonly runner: RunnerContext
  readonly proposerLabel: string
  readonly stageDir: string
}) =>
  Effect.gen(function* () {
    const store = yield* Store
    const progress = yield* Progress
    const experiments = store.experiments.listExperiments(init.stageId)
    const used = yield* Ref.make((yield* experiments).length)
    const limit = init.settings.budget.experiments ?? null
    const incumbentLock = yield* Semaphore.make(1)
    const rebasedRuns = yield* Ref.make(0)
    const resultsFile = path.join(init.stageDir, "results.tsv")

    const report = (row: Experiment) =>
      Effect.gen(function* () {
        const all = yield* experiments
        writeResultsTsv(resultsFile, all, init.target.metric.name)
        const incumbent = currentIncumbent(all, init.setup.baseCommit)
        const best = incumbent.runs.length > 0 ? incumbent.runs.reduce((a, b) => a + b, 0) / incumbent.runs.length : null
        const verdict = row.judgement ? ` (Δ ${show(row.judgement.improvement)}, gate ${show(row.judgement.gate)})` : row.reason ? ` (${row.reason})` : ""
        const label = row.purpose === "candidate" ? "" : ` ${row.purpose}`
        yield* progress.emit({
          runId: init.runId,
          stageId: init.stageId,
          kind: "experiment-finished",
          message: `${init.stageName} #${row.seq}${label} [${init.proposerLabel}] ${row.status} ${row.description ?? ""}: ${init.target.metric.name} ${show(row.metric)}${verdict} | best ${show(best)} | ${all.length}${limit ? `/${limit}` : ""} experiments | w${row.worker}`,
          data: { experimentId: row.id, status: row.status, metric: row.metric },
        })
      })

    const runtime: SearchRuntime = {
      ...init,
      incumbentLock,
      rebasedRuns,
      experiments,
      resultsFile,
      reserve: Ref.modify(used, (n) => (limit === null || n < limit ? [true, n + 1] : [false, n])),
      unreserve: Ref.update(used, (n) => n - 1),
      remaining: Ref.get(used).pipe(Effect.map((n) => (limit === null ? Number.MAX_SAFE_INTEGER : limit - n))),
      report,
      runRow: (row, placement) =>
        Effect.gen(function* () {
          const finished = yield* runExperiment(init.runner, row, placement)
          // A measured candidate is reported once it is judged (see settle).
          if (!(finished.status === "measured" && judgedPurposes.has(finished.purpose))) yield* report(finished)
          return finished
        }),
      filesAt: init.runner.filesAt,
    }
    fs.mkdirSync(init.stageDir, { recursive: true })
    return runtime
  })
