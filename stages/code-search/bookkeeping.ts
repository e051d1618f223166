/**
 * Everything the search needs to know, recomputed from a stage's experiment rows: the incumbent, the runs
 * measured at each commit, the noise groups, what is in flight, the history of moves, the summary. Because
 * it is derived from the store alone, a resumed stage sees exactly what the killed one had recorded. Pure.
 */
import type { MetricDirection } from "../../src/config.ts"
import type { CodeSearchSummary } from "./summary.ts"
import type { Experiment } from "../../src/domain/Experiment.ts"
import type { KeptEdit } from "../../src/domain/Handoff.ts"
import type { RecentExperiment } from "../experiment-kit/agentPrompt.ts"
import { improvement } from "./keepRule.ts"
import { type Move, type MoveOutcome, replayMoves } from "../experiment-kit/moves.ts"
import { mean } from "../../src/common/stats.ts"

export interface Incumbent {
  readonly commit: string
  readonly runs: ReadonlyArray<number>
  readonly experimentId: number | null
  readonly description: string
}

const judged = new Set(["candidate", "rebase", "promote"])

/** Metrics of an experiment and its confirm reruns. */
export const runsOf = (experiments: ReadonlyArray<Experiment>, experiment: Experiment): Array<number> => [
  ...(experiment.metric !== null ? [experiment.metric] : []),
  ...experiments.filter((e) => e.parentId === experiment.id && e.purpose === "confirm" && e.status === "measured" && e.metric !== null).map((e) => e.metric!),
]

export const baselineRuns = (experiments: ReadonlyArray<Experiment>): Array<number> =>
  experiments.filter((e) => e.purpose === "baseline" && e.status === "measured" && e.metric !== null).map((e) => e.metric!)

/** The runs measured at `commit`: the baseline runs for the base commit, else those of the kept experiment that made it. */
export const runsAtCommit = (experiments: ReadonlyArray<Experiment>, commit: string, baseCommit: string): Array<number> | undefined => {
  const maker = experiments.find((e) => e.status === "keep" && e.resultCommit === commit)
  if (maker) return runsOf(experiments, maker)
  return commit === baseCommit ? baselineRuns(experiments) : undefined
}

export const currentIncumbent = (experiments: ReadonlyArray<Experiment>, baseCommit: string): Incumbent => {
  const kept = experiments.filter((e) => e.status === "keep" && e.resultCommit !== null)
  const last = kept.at(-1)
  if (!last) return { commit: baseCommit, runs: baselineRuns(experiments), experimentId: null, description: "baseline" }
  return { commit: last.resultCommit!, runs: runsOf(experiments, last), experimentId: last.id, description: last.description ?? "" }
}

/** One run of some code: its metric and when it ran (its sequence number in the stage). */
export interface MeasuredRun {
  readonly seq: number
  readonly metric: number
}

const confirmRows = (experiments: ReadonlyArray<Experiment>, parent: Experiment) =>
  experiments.filter((e) => e.parentId === parent.id && e.purpose === "confirm" && e.status === "measured" && e.metric !== null)

/** A description prefix that marks a confirm row as a re-measurement of the incumbent (a drift check). */
export const remeasurePrefix = "re-measure the incumbent"

/**
 * The runs of the code at `commit`, in the order they ran: the kept experiment that made it (or, for the
 * base commit, the baselines) with its confirm and re-measure runs. Undefined for a commit no row made.
 */
export const measuredAt = (experiments: ReadonlyArray<Experiment>, commit: string, baseCommit: string): Array<MeasuredRun> | undefined => {
  const maker = experiments.find((e) => e.status === "keep" && e.resultCommit === commit)
  const roots = maker ? [maker] : commit === baseCommit ? experiments.filter((e) => e.purpose === "baseline" && e.status === "measured" && e.metric !== null) : undefined
  if (roots === undefined) return undefined
  return roots
    .flatMap((root) => [...(root.metric !== null ? [root] : []), ...confirmRows(experiments, root)])
    .map((e) => ({ seq: e.seq, metric: e.metric! }))
    .sort((a, b) => a.seq - b.seq)
}

/** The row a re-measurement of `commit` hangs from: the kept experiment that made it, or the first baseline. */
export const makerAt = (experiments: ReadonlyArray<Experiment>, commit: string, baseCommit: string): Experiment | undefined =>
  experiments.find((e) => e.status === "keep" && e.resultCommit === commit) ?? (commit === baseCommit ? experiments.find((e) => e.purpose === "baseline" && e.status === "measured") : undefined)

/**
 * How far each incumbent that was re-measured moved: the mean of its re-measure runs minus the mean of
 * its runs before the first one (metric units; positive = the metric went up).
 */
export const incumbentDrift = (experiments: ReadonlyArray<Experiment>, baseCommit: string): Array<{ readonly commit: string; readonly drift: number; readonly remeasures: number }> => {
  const commits = [baseCommit, ...experiments.filter((e) => e.status === "keep" && e.resultCommit !== null).map((e) => e.resultCommit!)]
  return commits.flatMap((commit) => {
    const maker = makerAt(experiments, commit, baseCommit)
    const roots = maker?.purpose === "baseline" ? experiments.filter((e) => e.purpose === "baseline") : maker ? [maker] : []
    const remeasures = roots.flatMap((root) => confirmRows(experiments, root)).filter((e) => e.description?.startsWith(remeasurePrefix))
    if (remeasures.length === 0) return []
    const first = Math.min(...remeasures.map((e) => e.seq))
    const before = (measuredAt(experiments, commit, baseCommit) ?? []).filter((run) => run.seq < first)
    if (before.length === 0) return []
    return [{ commit, drift: mean(remeasures.map((e) => e.metric!)) - mean(before.map((run) => run.metric)), remeasures: remeasures.length }]
  })
}

/** Groups of repeated runs of the same code: the base commit's runs, and each judged experiment with its confirms. */
export const noiseGroups = (experiments: ReadonlyArray<Experiment>): Array<Array<number>> => [
  experiments.filter((e) => e.purpose === "baseline" && e.status === "measured" && e.metric !== null).flatMap((e) => runsOf(experiments, e)),
  ...experiments.filter((e) => judged.has(e.purpose) && e.metric !== null).map((e) => runsOf(experiments, e)),
]

export const isUnfinished = (e: Experiment) => e.status === "planned" || e.status === "running"

/** Rows whose idea is not settled yet: planned, running, or measured but not judged. */
export const inFlight = (experiments: ReadonlyArray<Experiment>): Array<Experiment> =>
  experiments.filter((e) => judged.has(e.purpose) && (isUnfinished(e) || e.status === "measured"))

/** History and in-flight moves for the offline proposer. */
export const movesOf = (experiments: ReadonlyArray<Experiment>, baseCommit: string, initialFiles: ReadonlyMap<string, string>): { history: Array<MoveOutcome>; pending: Array<Move> } =>
  replayMoves(
    experiments.map((e) => ({
      purpose: e.purpose,
      status: e.status,
      baseCommit: e.baseCommit,
      resultCommit: e.resultCommit,
      edit: e.edit,
      improvement: e.judgement?.improvement ?? null,
    })),
    baseCommit,
    initialFiles,
  )

export const recentExperiments = (experiments: ReadonlyArray<Experiment>, limit: number): Array<RecentExperiment> =>
  experiments
    .filter((e) => judged.has(e.purpose) && !isUnfinished(e) && e.status !== "measured")
    .slice(-limit)
    .reverse()
    .map((e) => ({
      seq: e.seq,
      status: e.status,
      metric: e.metric,
      improvement: e.judgement?.improvement ?? null,
      description: e.description ?? "",
      direction: e.direction,
      reason: e.reason,
    }))

/** The figures the stage's rows determine (the rest of the summary comes from the stage's settings). */
export type RowFigures = Pick<
  CodeSearchSummary,
  "metric" | "direction" | "baseline" | "best" | "gain" | "bestCommit" | "bestExperimentId" | "experimentsToBest" | "experiments" | "kept" | "discarded" | "crashed" | "timedOut" | "rejected" | "noiseSigma" | "experimentSeconds" | "offline" | "proposer"
> & { readonly bestCommit: string }

export const summarize = (
  experiments: ReadonlyArray<Experiment>,
  context: { metric: string; direction: MetricDirection; baseCommit: string; noiseSigma: number; offline: boolean; proposer: string },
): RowFigures => {
  const baseline = baselineRuns(experiments)
  const incumbent = currentIncumbent(experiments, context.baseCommit)
  const baselineMean = baseline.length > 0 ? mean(baseline) : null
  const bestMean = incumbent.runs.length > 0 ? mean(incumbent.runs) : null
  const count = (status: string) => experiments.filter((e) => e.status === status).length
  const bestRow = incumbent.experimentId === null ? undefined : experiments.find((e) => e.id === incumbent.experimentId)
  return {
    metric: context.metric,
    direction: context.direction,
    baseline: baselineMean,
    best: bestMean,
    gain: baselineMean !== null && bestMean !== null ? improvement(context.direction, baselineMean, bestMean) : null,
    bestCommit: incumbent.commit,
    bestExperimentId: incumbent.experimentId,
    experimentsToBest: bestRow ? bestRow.seq : baseline.length > 0 ? 0 : null,
    experiments: experiments.length,
    kept: count("keep"),
    discarded: count("discard"),
    crashed: count("crash"),
    timedOut: count("timeout"),
    rejected: count("rejected"),
    noiseSigma: context.noiseSigma,
    experimentSeconds: experiments.reduce((sum, e) => sum + (e.seconds ?? 0), 0),
    offline: context.offline,
    proposer: context.proposer,
  }
}

/** Kept edits ranked by their measured improvement (largest first), for the next code-search stage. */
export const keptEdits = (experiments: ReadonlyArray<Experiment>): Array<KeptEdit> =>
  experiments
    .filter((e) => e.status === "keep" && e.resultCommit !== null && e.edit !== null)
    .map((e) => ({ experimentId: e.id, commit: e.resultCommit!, description: e.description ?? "", direction: e.direction, delta: e.judgement?.improvement ?? 0, edit: e.edit! }))
    .sort((a, b) => b.delta - a.delta)

