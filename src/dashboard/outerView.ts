/**
 * The outer stage (GEPA) as the dashboard shows it: candidates with their lineage and scores, the
 * per-scenario score matrix, the Pareto front replayed iteration by iteration, and one row per proposal
 * (the reflection texts are served separately, on demand). Pure.
 */
import type { CandidateRecord, EvaluationRecord, ProposalRecord } from "../domain/Candidate.ts"
import type { OuterSummary } from "../domain/StageSummary.ts"
import { type OuterStageData, outerScores } from "../pipeline/report/model.ts"
import { outerSummaryOf } from "../pipeline/StageKind.ts"

export interface CandidateNode {
  readonly idx: number
  readonly hash: string
  readonly parents: ReadonlyArray<number>
  readonly origin: string
  readonly iteration: number
  readonly metricCalls: number
  readonly offline: boolean
  readonly valScore: number | null
  readonly trainScore: number | null
  readonly onFront: boolean
  readonly best: boolean
  readonly components: ReadonlyArray<readonly [string, string]>
}

export interface ScoreMatrix {
  readonly split: "val" | "train"
  readonly examples: ReadonlyArray<string>
  readonly rows: ReadonlyArray<{ readonly idx: number; readonly scores: ReadonlyArray<number | null>; readonly mean: number | null }>
}

export interface ParetoStep {
  readonly iteration: number
  readonly candidates: number
  /** Candidates that are best (ties included) on at least one example of the matrix's split. */
  readonly front: ReadonlyArray<number>
  readonly bestScore: number | null
  /** Mean over examples of the best score any candidate reached on it: what the front covers. */
  readonly frontScore: number | null
}

export interface ProposalRow {
  readonly iteration: number
  readonly kind: string
  readonly parents: ReadonlyArray<number>
  readonly components: ReadonlyArray<string>
  readonly minibatch: ReadonlyArray<string>
  readonly sumBefore: number | null
  readonly sumAfter: number | null
  readonly accepted: boolean
  readonly reason: string
  readonly childIdx: number | null
  readonly offline: boolean
  readonly metricCalls: number
  readonly promptChars: number
  readonly outputChars: number
}

export interface OuterView {
  readonly stageId: number
  readonly stage: string
  readonly arm: string
  readonly status: string
  readonly summary: OuterSummary | null
  readonly candidates: ReadonlyArray<CandidateNode>
  readonly matrix: ScoreMatrix
  readonly pareto: ReadonlyArray<ParetoStep>
  readonly proposals: ReadonlyArray<ProposalRow>
}

const meanOf = (values: ReadonlyArray<number>) => (values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length)

const scoresBySplit = (evaluations: ReadonlyArray<EvaluationRecord>, split: "val" | "train") => {
  const byHash = new Map<string, Map<string, number>>()
  for (const e of evaluations) {
    if (e.split !== split) continue
    const scores = byHash.get(e.candidateHash) ?? new Map<string, number>()
    scores.set(e.exampleId, e.score)
    byHash.set(e.candidateHash, scores)
  }
  return byHash
}

const compareIds = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true })

export const scoreMatrix = (candidates: ReadonlyArray<CandidateRecord>, evaluations: ReadonlyArray<EvaluationRecord>): ScoreMatrix => {
  const split: "val" | "train" = evaluations.some((e) => e.split === "val") ? "val" : "train"
  const byHash = scoresBySplit(evaluations, split)
  const examples = [...new Set(evaluations.filter((e) => e.split === split).map((e) => e.exampleId))].sort(compareIds)
  return {
    split,
    examples,
    rows: candidates.map((c) => {
      const scores = examples.map((id) => byHash.get(c.hash)?.get(id) ?? null)
      return { idx: c.idx, scores, mean: meanOf(scores.filter((s): s is number => s !== null)) }
    }),
  }
}

/** Candidates best on at least one example (ties included), among `rows`. */
export const frontOf = (matrix: ScoreMatrix, pool: ReadonlySet<number>): Array<number> => {
  const front = new Set<number>()
  matrix.examples.forEach((_, column) => {
    let top = -Infinity
    for (const row of matrix.rows) if (pool.has(row.idx) && row.scores[column] != null) top = Math.max(top, row.scores[column]!)
    if (top === -Infinity) return
    for (const row of matrix.rows) if (pool.has(row.idx) && row.scores[column] === top) front.add(row.idx)
  })
  return [...front].sort((a, b) => a - b)
}

export const paretoOverIterations = (candidates: ReadonlyArray<CandidateRecord>, matrix: ScoreMatrix, lastIteration: number): Array<ParetoStep> => {
  const steps: Array<ParetoStep> = []
  const rowOf = new Map(matrix.rows.map((r) => [r.idx, r]))
  for (let iteration = 0; iteration <= lastIteration; iteration += 1) {
    const pool = new Set(candidates.filter((c) => c.iteration <= iteration).map((c) => c.idx))
    if (pool.size === 0) continue
    const means = [...pool].map((idx) => rowOf.get(idx)?.mean ?? null).filter((m): m is number => m !== null)
    const columnBest = matrix.examples
      .map((_, column) => {
        const values = [...pool].map((idx) => rowOf.get(idx)?.scores[column] ?? null).filter((v): v is number => v !== null)
        return values.length === 0 ? null : Math.max(...values)
      })
      .filter((v): v is number => v !== null)
    steps.push({ iteration, candidates: pool.size, front: frontOf(matrix, pool), bestScore: means.length === 0 ? null : Math.max(...means), frontScore: meanOf(columnBest) })
  }
  return steps
}

const proposalRow = (p: ProposalRecord): ProposalRow => ({
  iteration: p.iteration,
  kind: p.kind,
  parents: p.parents,
  components: p.components,
  minibatch: p.minibatch,
  sumBefore: p.sumBefore,
  sumAfter: p.sumAfter,
  accepted: p.accepted,
  reason: p.reason,
  childIdx: p.childIdx,
  offline: p.offline,
  metricCalls: p.metricCalls,
  promptChars: p.reflectionPrompt?.length ?? 0,
  outputChars: p.reflectionOutput?.length ?? 0,
})

export const outerView = (data: OuterStageData): OuterView => {
  const matrix = scoreMatrix(data.candidates, data.evaluations)
  const trainMeans = new Map([...scoresBySplit(data.evaluations, "train")].map(([hash, scores]) => [hash, meanOf([...scores.values()])]))
  const lastIteration = Math.max(0, ...data.candidates.map((c) => c.iteration), ...data.proposals.map((p) => p.iteration))
  const pareto = paretoOverIterations(data.candidates, matrix, lastIteration)
  const front = new Set(pareto.at(-1)?.front ?? [])
  const meanOfIdx = new Map(matrix.rows.map((r) => [r.idx, r.mean]))
  const bestIdx = outerScores(data.stage, data.candidates, data.evaluations).bestCandidate
  return {
    stageId: data.stage.id,
    stage: data.stage.name,
    arm: data.stage.arm,
    status: data.stage.status,
    summary: outerSummaryOf(data.stage),
    candidates: data.candidates.map((c) => ({
      idx: c.idx,
      hash: c.hash.slice(0, 12),
      parents: c.parents,
      origin: c.origin,
      iteration: c.iteration,
      metricCalls: c.metricCalls,
      offline: c.offline,
      valScore: matrix.split === "val" ? (meanOfIdx.get(c.idx) ?? null) : null,
      trainScore: trainMeans.get(c.hash) ?? null,
      onFront: front.has(c.idx),
      best: c.idx === bestIdx,
      components: c.components,
    })),
    matrix,
    pareto,
    proposals: data.proposals.map(proposalRow),
  }
}
