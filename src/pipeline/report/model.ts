/**
 * The numbers a run is judged by, computed from its rows: outer gain (GEPA scores), inner gain (the metric,
 * noise-gated), per-arm results, LLM usage and compute. The JSON keys are a public contract (`twoloop
 * report --format json`, the dashboard). Pure: `buildReport` takes rows, `loadReportData` reads them.
 */
import { Effect } from "effect"
import { bestCandidate, type CandidateRecord, descendsFromLibrary, type EvaluationRecord, type ProposalRecord, seedOf, validationMeans } from "../../domain/Candidate.ts"
import type { Experiment } from "../../domain/Experiment.ts"
import type { Run, StageRecord } from "../../domain/Run.ts"
import type { Drift, Transfer } from "../../domain/StageSummary.ts"
import type { StoreShape } from "../../services/Store.ts"
import type { LlmTotals } from "../../services/store/llmCalls.ts"
import { innerSummaryOf, outerSummaryOf } from "../StageKind.ts"

export interface OuterStageData {
  readonly stage: StageRecord
  readonly candidates: ReadonlyArray<CandidateRecord>
  readonly evaluations: ReadonlyArray<EvaluationRecord>
  readonly proposals: ReadonlyArray<ProposalRecord>
}

export interface ReportData {
  readonly run: Run
  readonly stages: ReadonlyArray<StageRecord>
  readonly experiments: ReadonlyArray<Experiment>
  readonly outer: ReadonlyArray<OuterStageData>
  readonly llm: LlmTotals
  readonly roles: Readonly<Record<string, "outer" | "inner">>
}

export interface OuterReport {
  readonly stage: string
  readonly seedScore: number | null
  readonly bestScore: number | null
  readonly gain: number | null
  /** The budgeted count (see `accounting`). */
  readonly metricCalls: number
  /** What the budget counted; null for stages recorded before both counts were kept. */
  readonly accounting: "runs" | "reference" | null
  /** Evaluations actually run, and gepa's count for the same steps (null when not recorded). */
  readonly evaluationsRun: number | null
  readonly referenceMetricCalls: number | null
  readonly candidates: number
  readonly offline: boolean
  readonly bestCandidate: number | null
  readonly libraryWon: boolean | null
}

export interface InnerReport {
  readonly stage: string
  readonly arm: string
  readonly metric: string
  readonly direction: "minimize" | "maximize"
  readonly baseline: number | null
  readonly best: number | null
  readonly gain: number | null
  readonly experiments: number
  readonly kept: number
  readonly discarded: number
  readonly crashed: number
  readonly timedOut: number
  readonly rejected: number
  readonly noiseSigma: number | null
  readonly offline: boolean
  readonly experimentsToBest: number | null
  readonly bestCommit: string | null
  readonly timeBudgetSeconds: number | null
  /** The outer stage's handed-over edits and whether they held at this stage's budget (empty without a handoff). */
  readonly transfers: ReadonlyArray<Transfer>
  /** Re-measurements of the incumbent and the largest drift they showed. */
  readonly drift: Drift | null
}

export interface RunReport {
  readonly runId: string
  readonly status: string
  readonly name: string
  readonly outer: OuterReport | null
  readonly inner: InnerReport | null
  readonly arms: Record<string, { readonly best: number | null; readonly gain: number | null; readonly experimentsToBest: number | null }>
  readonly llm: { readonly calls: number; readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null }
  readonly compute: { readonly experimentSeconds: number; readonly wallSeconds: number; readonly dutyCycle: number | null }
  /** Every inner stage, in run order (a promotion ladder has several per arm). */
  readonly innerStages: ReadonlyArray<InnerReport>
  readonly outerStages: ReadonlyArray<OuterReport>
}

/**
 * Seed score, best score and gain of an outer stage: from its summary once it has one, else (while it runs)
 * from its rows by the domain's candidate rules. The dashboard's runs list uses the same function.
 */
export const outerScores = (
  stage: Pick<StageRecord, "summary">,
  candidates: ReadonlyArray<Pick<CandidateRecord, "idx" | "hash" | "origin">>,
  evaluations: ReadonlyArray<Pick<EvaluationRecord, "candidateHash" | "split" | "score">>,
): { readonly seedScore: number | null; readonly bestScore: number | null; readonly gain: number | null; readonly bestCandidate: number | null } => {
  const summary = outerSummaryOf(stage)
  if (summary) {
    const { seedScore, bestScore, bestCandidate } = summary
    return { seedScore, bestScore, bestCandidate, gain: seedScore !== null && bestScore !== null ? bestScore - seedScore : null }
  }
  const means = validationMeans(evaluations)
  const seed = seedOf(candidates)
  const best = bestCandidate(candidates, means)
  const seedScore = seed ? (means.get(seed.hash) ?? null) : null
  const bestScore = best ? means.get(best.hash)! : null
  return { seedScore, bestScore, bestCandidate: best?.idx ?? null, gain: seedScore !== null && bestScore !== null ? bestScore - seedScore : null }
}

export const outerReport = (data: OuterStageData): OuterReport => {
  const summary = outerSummaryOf(data.stage)
  const scores = outerScores(data.stage, data.candidates, data.evaluations)
  const hasLibrary = data.candidates.some((c) => c.origin === "library")
  return {
    stage: data.stage.name,
    seedScore: scores.seedScore,
    bestScore: scores.bestScore,
    gain: scores.gain,
    metricCalls: summary?.metricCalls ?? data.evaluations.length,
    accounting: summary?.accounting ?? null,
    evaluationsRun: summary?.evaluationsRun ?? null,
    referenceMetricCalls: summary?.referenceMetricCalls ?? null,
    candidates: data.candidates.length,
    offline: summary?.offline ?? (data.candidates.some((c) => c.offline) || data.proposals.some((p) => p.offline)),
    bestCandidate: scores.bestCandidate,
    libraryWon: summary ? summary.libraryWon : hasLibrary && scores.bestCandidate !== null ? descendsFromLibrary(data.candidates, scores.bestCandidate) : null,
  }
}

export const innerReport = (stage: StageRecord, experiments: ReadonlyArray<Experiment>): InnerReport => {
  const summary = innerSummaryOf(stage)
  const rows = experiments.filter((e) => e.stageId === stage.id)
  const count = (status: string) => rows.filter((e) => e.status === status).length
  return {
    stage: stage.name,
    arm: stage.arm,
    metric: summary?.metric ?? "",
    direction: summary?.direction ?? "minimize",
    baseline: summary?.baseline ?? null,
    best: summary?.best ?? null,
    gain: summary?.gain ?? null,
    experiments: rows.length,
    kept: count("keep"),
    discarded: count("discard"),
    crashed: count("crash"),
    timedOut: count("timeout"),
    rejected: count("rejected"),
    noiseSigma: summary?.noiseSigma ?? null,
    offline: summary?.offline ?? rows.some((e) => e.offline),
    experimentsToBest: summary?.experimentsToBest ?? null,
    bestCommit: summary?.bestCommit ?? null,
    timeBudgetSeconds: summary?.timeBudgetSeconds ?? null,
    transfers: summary?.transfers ?? [],
    drift: summary?.drift ?? null,
  }
}

/** Held ÷ re-validated handed-over edits; null when none was re-validated. */
export const transferRate = (transfers: ReadonlyArray<Transfer>): number | null => {
  const run = transfers.filter((t) => t.outcome !== "not run")
  return run.length === 0 ? null : run.filter((t) => t.outcome === "held").length / run.length
}

export const buildReport = (data: ReportData): RunReport => {
  const inner = data.stages.filter((s) => data.roles[s.kind] === "inner").map((s) => innerReport(s, data.experiments))
  const outer = data.outer.map(outerReport)
  const arms = [...new Set(data.stages.map((s) => s.arm))]
  const primaryArm = arms.includes("hybrid") ? "hybrid" : arms[0]
  const lastInnerOf = (arm: string | undefined) => inner.filter((r) => r.arm === arm).at(-1) ?? null
  const experimentSeconds = data.experiments.reduce((s, e) => s + (e.seconds ?? 0), 0)
  const started = Date.parse(data.run.startedAt)
  const ended = data.run.endedAt ? Date.parse(data.run.endedAt) : Date.now()
  const wallSeconds = Math.max(0, (ended - started) / 1000)
  const slots = Math.max(1, ...data.stages.map((s) => (data.roles[s.kind] === "inner" ? (innerSummaryOf(s)?.workers ?? 1) : 1)))
  return {
    runId: data.run.id,
    status: data.run.status,
    name: data.run.name,
    outer: outer[0] ?? null,
    inner: lastInnerOf(primaryArm),
    arms: Object.fromEntries(
      arms.map((arm) => {
        const last = lastInnerOf(arm)
        return [arm, { best: last?.best ?? null, gain: last?.gain ?? null, experimentsToBest: last?.experimentsToBest ?? null }]
      }),
    ),
    llm: { calls: data.llm.calls, inputTokens: data.llm.inputTokens, outputTokens: data.llm.outputTokens, costUsd: data.llm.costUsd },
    compute: { experimentSeconds, wallSeconds, dutyCycle: wallSeconds > 0 ? Math.min(1, experimentSeconds / (wallSeconds * slots)) : null },
    innerStages: inner,
    outerStages: outer,
  }
}

/** Reads everything `buildReport` needs for one run; undefined when the run does not exist. */
export const loadReportData = (store: StoreShape, runId: string, roleOf: (kind: string) => "outer" | "inner"): Effect.Effect<ReportData | undefined> =>
  Effect.gen(function* () {
    const run = yield* store.runs.getRun(runId)
    if (!run) return undefined
    const stages = yield* store.runs.listStages(runId)
    const experiments = yield* store.experiments.listRunExperiments(runId)
    const roles = Object.fromEntries(stages.map((s) => [s.kind, roleOf(s.kind)]))
    const outer: Array<OuterStageData> = []
    for (const stage of stages.filter((s) => roles[s.kind] === "outer")) {
      outer.push({
        stage,
        candidates: yield* store.outer.listCandidates(stage.id),
        evaluations: yield* store.outer.listEvaluations(stage.id),
        proposals: yield* store.outer.listProposals(stage.id),
      })
    }
    const llm = yield* store.llmCalls.llmTotals({ runId })
    return { run, stages, experiments, outer, llm, roles }
  })
