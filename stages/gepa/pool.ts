/**
 * The candidate pool of one optimization: every accepted candidate with its parents, validation scores,
 * mean and discovery budget, plus the per-example Pareto fronts, maintained incrementally so that adding
 * a candidate costs O(validation size) and reading the fronts never rescans the pool.
 */
import type { CandidateOrigin, CandidateRecord } from "../../src/domain/Candidate.ts"
import type { Components } from "./candidate.ts"
import { addToFronts, type Fronts, meanScore, selectCurrentBest } from "./pareto.ts"

export interface PoolCandidate {
  readonly index: number
  readonly components: Components
  readonly hash: string
  /** 0 parents for the seed, 1 for a reflective child, 2 for a merge. */
  readonly parents: ReadonlyArray<number>
  readonly origin: CandidateOrigin
  /** For a seed from the prompt library: the entry it came from. */
  readonly libraryEntryId?: string | null
  /** The iteration that produced it (0 for the seed). */
  readonly iteration: number
  /** Metric calls used before its full validation (the budget spent when it was found). */
  readonly discoveryMetricCalls: number
  readonly offline: boolean
  readonly valScores: ReadonlyMap<string, number>
  readonly mean: number
}

export type NewPoolCandidate = Omit<PoolCandidate, "index" | "mean">

export class CandidatePool {
  readonly candidates: Array<PoolCandidate> = []
  readonly means: Array<number> = []
  private readonly fronts = new Map<string, { best: number; members: Array<number> }>()

  add(candidate: NewPoolCandidate): PoolCandidate {
    const index = this.candidates.length
    const added: PoolCandidate = { ...candidate, index, mean: meanScore(candidate.valScores) }
    this.candidates.push(added)
    this.means.push(added.mean)
    addToFronts(this.fronts, index, candidate.valScores)
    return added
  }

  get size(): number {
    return this.candidates.length
  }

  get(index: number): PoolCandidate {
    const candidate = this.candidates[index]
    if (!candidate) throw new Error(`no candidate ${index} in the pool`)
    return candidate
  }

  /** Example id → candidates reaching the best score on it (fresh arrays). */
  currentFronts(): Fronts {
    return Object.fromEntries([...this.fronts].map(([exampleId, front]) => [exampleId, [...front.members]]))
  }

  bestIndex(): number {
    return selectCurrentBest(this.means)
  }

  bestMean(): number {
    return this.means[this.bestIndex()] ?? 0
  }
}

export const toCandidateRecord = (candidate: PoolCandidate): CandidateRecord => ({
  idx: candidate.index,
  hash: candidate.hash,
  components: candidate.components,
  parents: candidate.parents,
  origin: candidate.origin,
  libraryEntryId: candidate.libraryEntryId ?? null,
  iteration: candidate.iteration,
  metricCalls: candidate.discoveryMetricCalls,
  offline: candidate.offline,
})
