/**
 * The shapes the dashboard's JSON API returns for runs and inner stages, computed from store rows and the
 * report model: run rows, progress series (autoresearch style: points, running-best staircase) and
 * experiment rows. `outerView.ts` and `llmView.ts` shape the outer stage and the LLM ledger. Pure.
 */
import { mean } from "../common/stats.ts"
import type { Experiment, Judgement } from "../domain/Experiment.ts"
import type { Run, StageRecord } from "../domain/Run.ts"
import type { InnerReport, OuterReport, RunReport } from "../pipeline/report/model.ts"
import { innerSummaryOf } from "../pipeline/StageKind.ts"

/** Bounds a text sent to the browser by lines and characters, and says whether it was cut. */
export const preview = (text: string | null, maxLines = 80, maxChars = 6000): { readonly text: string | null; readonly truncated: boolean } => {
  if (text === null) return { text: null, truncated: false }
  const lines = text.split("\n")
  let cut = lines.length > maxLines ? lines.slice(0, maxLines).join("\n") : text
  if (cut.length > maxChars) cut = cut.slice(0, maxChars)
  return { text: cut, truncated: cut.length < text.length }
}

// ---------------------------------------------------------------------------------------------------------
// Runs

export interface RunRow {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly live: boolean
  readonly arms: ReadonlyArray<string>
  readonly startedAt: string
  readonly endedAt: string | null
  readonly error: string | null
  readonly metric: string | null
  readonly direction: "minimize" | "maximize" | null
  readonly baseline: number | null
  readonly best: number | null
  readonly innerGain: number | null
  readonly innerOffline: boolean | null
  readonly outerSeedScore: number | null
  readonly outerBestScore: number | null
  readonly outerGain: number | null
  readonly outerOffline: boolean | null
  readonly experiments: number
  readonly kept: number
  readonly llmCalls: number
  readonly costUsd: number | null
}

/** A heartbeat younger than this means a live process holds the run. */
export const liveHeartbeatMs = 30_000

/**
 * The part of a run's report a run row shows: the primary arm's last inner stage, the first outer stage,
 * experiment counts over every inner stage, LLM usage. `figuresOfReport` takes it from a built report;
 * `runFigures.ts` reads the same numbers with aggregate queries, for the runs list.
 */
export interface RunFigures {
  readonly inner: Pick<InnerReport, "metric" | "direction" | "baseline" | "best" | "gain" | "offline"> | null
  readonly outer: Pick<OuterReport, "seedScore" | "bestScore" | "gain" | "offline"> | null
  readonly experiments: number
  readonly kept: number
  readonly llm: Pick<RunReport["llm"], "calls" | "costUsd">
}

export const figuresOfReport = (report: RunReport): RunFigures => ({
  inner: report.inner && {
    metric: report.inner.metric,
    direction: report.inner.direction,
    baseline: report.inner.baseline,
    best: report.inner.best,
    gain: report.inner.gain,
    offline: report.inner.offline,
  },
  outer: report.outer && { seedScore: report.outer.seedScore, bestScore: report.outer.bestScore, gain: report.outer.gain, offline: report.outer.offline },
  experiments: report.innerStages.reduce((sum, stage) => sum + stage.experiments, 0),
  kept: report.innerStages.reduce((sum, stage) => sum + stage.kept, 0),
  llm: { calls: report.llm.calls, costUsd: report.llm.costUsd },
})

export const runRow = (run: Run, figures: RunFigures, heartbeatAgeMs: number | null): RunRow => ({
  id: run.id,
  name: run.name,
  status: run.status,
  live: run.status === "running" && heartbeatAgeMs !== null && heartbeatAgeMs < liveHeartbeatMs,
  arms: run.arms,
  startedAt: run.startedAt,
  endedAt: run.endedAt,
  error: run.error,
  metric: figures.inner?.metric || null,
  direction: figures.inner?.direction ?? null,
  baseline: figures.inner?.baseline ?? null,
  best: figures.inner?.best ?? null,
  innerGain: figures.inner?.gain ?? null,
  innerOffline: figures.inner?.offline ?? null,
  outerSeedScore: figures.outer?.seedScore ?? null,
  outerBestScore: figures.outer?.bestScore ?? null,
  outerGain: figures.outer?.gain ?? null,
  outerOffline: figures.outer?.offline ?? null,
  experiments: figures.experiments,
  kept: figures.kept,
  llmCalls: figures.llm.calls,
  costUsd: figures.llm.costUsd,
})

export interface StageRow {
  readonly id: number
  readonly arm: string
  readonly position: number
  readonly kind: string
  readonly name: string
  readonly role: "outer" | "inner"
  readonly status: string
  readonly startedAt: string | null
  readonly endedAt: string | null
  readonly error: string | null
  readonly summary: unknown
}

export const stageRow = (stage: StageRecord, role: "outer" | "inner"): StageRow => ({
  id: stage.id,
  arm: stage.arm,
  position: stage.position,
  kind: stage.kind,
  name: stage.name,
  role,
  status: stage.status,
  startedAt: stage.startedAt,
  endedAt: stage.endedAt,
  error: stage.error,
  summary: stage.summary,
})

// ---------------------------------------------------------------------------------------------------------
// Progress chart of an inner stage

export interface ProgressPoint {
  readonly id: number
  readonly seq: number
  readonly purpose: string
  readonly status: string
  readonly metric: number | null
  readonly description: string | null
  readonly direction: string | null
  readonly rationale: string | null
  readonly reason: string | null
  readonly improvement: number | null
  readonly gate: number | null
  readonly runs: number | null
  readonly diff: string | null
  readonly diffTruncated: boolean
}

export interface ProgressSeries {
  readonly stageId: number
  readonly stage: string
  readonly arm: string
  readonly status: string
  readonly metric: string
  readonly direction: "minimize" | "maximize"
  readonly baseline: number | null
  /** Finished baselines, candidates, rebases and promotions, in order (`metric` null: crash, timeout, rejected). */
  readonly points: ReadonlyArray<ProgressPoint>
  /** The running best as a staircase: the baseline mean, then the incumbent after each kept experiment. */
  readonly best: ReadonlyArray<{ readonly x: number; readonly y: number }>
  readonly running: number
}

const charted = new Set(["candidate", "rebase", "promote", "baseline"])
const unfinished = new Set(["planned", "running"])

const progressPoint = (e: Experiment): ProgressPoint => {
  const diff = preview(e.diff)
  const judgement: Judgement | null = e.judgement
  return {
    id: e.id,
    seq: e.seq,
    purpose: e.purpose,
    status: e.status,
    metric: e.metric !== null && Number.isFinite(e.metric) ? e.metric : null,
    description: e.description,
    direction: e.direction,
    rationale: e.rationale,
    reason: e.reason,
    improvement: judgement?.improvement ?? null,
    gate: judgement?.gate ?? null,
    runs: judgement?.runs ?? null,
    diff: diff.text,
    diffTruncated: diff.truncated,
  }
}

/** The staircase of the running best over the charted points (the report's progress chart uses the same rule). */
export const runningBest = (points: ReadonlyArray<ProgressPoint>, means: ReadonlyMap<number, number>): Array<{ x: number; y: number }> => {
  if (points.length === 0) return []
  const baselines = points.filter((p) => p.purpose === "baseline" && p.metric !== null).map((p) => p.metric!)
  let best: number | null = baselines.length > 0 ? baselines.reduce((sum, v) => sum + v, 0) / baselines.length : null
  const stairs: Array<{ x: number; y: number }> = []
  if (best !== null) stairs.push({ x: points[0]!.seq, y: best })
  for (const point of points) {
    if (point.status !== "keep" || point.metric === null) continue
    best = means.get(point.id) ?? point.metric
    stairs.push({ x: point.seq, y: best })
  }
  if (best !== null && stairs.at(-1)!.x !== points.at(-1)!.seq) stairs.push({ x: points.at(-1)!.seq, y: best })
  return stairs
}

export const progressSeries = (stage: StageRecord, experiments: ReadonlyArray<Experiment>): ProgressSeries => {
  const rows = experiments.filter((e) => e.stageId === stage.id)
  const shown = rows.filter((e) => charted.has(e.purpose) && !unfinished.has(e.status))
  const points = shown.map(progressPoint)
  const means = new Map(shown.filter((e) => e.judgement !== null).map((e) => [e.id, e.judgement!.candidateMean]))
  const summary = innerSummaryOf(stage)
  const baselineRuns = points.filter((p) => p.purpose === "baseline" && p.metric !== null)
  return {
    stageId: stage.id,
    stage: stage.name,
    arm: stage.arm,
    status: stage.status,
    metric: summary?.metric ?? "metric",
    direction: summary?.direction ?? "minimize",
    baseline: summary?.baseline ?? (baselineRuns.length > 0 ? mean(baselineRuns.map((p) => p.metric!)) : null),
    points,
    best: runningBest(points, means),
    running: rows.filter((e) => e.status === "running").length,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Experiments table

export interface ExperimentRow {
  readonly id: number
  readonly stageId: number
  readonly stage: string
  readonly arm: string
  readonly seq: number
  readonly worker: number
  readonly purpose: string
  readonly scenario: string | null
  readonly status: string
  readonly metric: number | null
  readonly improvement: number | null
  readonly description: string | null
  readonly direction: string | null
  readonly proposer: string
  readonly offline: boolean
  readonly seconds: number | null
  readonly reason: string | null
  readonly startedAt: string | null
  readonly endedAt: string | null
}

export interface ExperimentDetail extends ExperimentRow {
  readonly rationale: string | null
  readonly diff: string | null
  readonly logTail: string | null
  readonly logPath: string | null
  readonly judgement: Judgement | null
  readonly env: unknown
  readonly baseCommit: string | null
  readonly resultCommit: string | null
  readonly parentId: number | null
  readonly seed: number
  readonly timeBudget: number
  readonly exitCode: number | null
  readonly signal: string | null
  readonly peakMemoryMb: number | null
  readonly attempt: number
}

export const experimentRow = (e: Experiment, stage: Pick<StageRecord, "name" | "arm"> | undefined): ExperimentRow => ({
  id: e.id,
  stageId: e.stageId,
  stage: stage?.name ?? "",
  arm: stage?.arm ?? "",
  seq: e.seq,
  worker: e.worker,
  purpose: e.purpose,
  scenario: e.scenario,
  status: e.status,
  metric: e.metric,
  improvement: e.judgement?.improvement ?? null,
  description: e.description,
  direction: e.direction,
  proposer: e.proposer,
  offline: e.offline,
  seconds: e.seconds,
  reason: e.reason,
  startedAt: e.startedAt,
  endedAt: e.endedAt,
})

export const experimentDetail = (e: Experiment, stage: Pick<StageRecord, "name" | "arm"> | undefined): ExperimentDetail => ({
  ...experimentRow(e, stage),
  rationale: e.rationale,
  diff: e.diff,
  logTail: e.logTail,
  logPath: e.logPath,
  judgement: e.judgement,
  env: e.env,
  baseCommit: e.baseCommit,
  resultCommit: e.resultCommit,
  parentId: e.parentId,
  seed: e.seed,
  timeBudget: e.timeBudget,
  exitCode: e.exitCode,
  signal: e.signal,
  peakMemoryMb: e.peakMemoryMb,
  attempt: e.attempt,
})

export interface ExperimentFilter {
  readonly statuses?: ReadonlyArray<string>
  readonly stageId?: number
}

export const filterExperiments = (experiments: ReadonlyArray<Experiment>, filter: ExperimentFilter): Array<Experiment> =>
  experiments.filter(
    (e) => (filter.statuses === undefined || filter.statuses.length === 0 || filter.statuses.includes(e.status)) && (filter.stageId === undefined || e.stageId === filter.stageId),
  )

export const statusCounts = (experiments: ReadonlyArray<Experiment>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const e of experiments) counts[e.status] = (counts[e.status] ?? 0) + 1
  return counts
}
