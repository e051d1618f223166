/**
 * The candidate pool of one optimization: every accepted candidate with its parents, validation scores,
 * mean and discovery budget, plus the per-example Pareto fronts, maintained incrementally so that adding
 * a candidate costs O(validation size) and reading the fronts never rescans the pool.
 */
import type { CandidateRecord, ScoredCandidate } from "../../src/domain/Candidate.ts"
import { addToFronts, type Fronts, meanScore, selectCurrentBest } from "./pareto.ts"

/** A candidate in the pool: the stored record plus its validation scores and their mean. */
export type PoolCandidate = ScoredCandidate

export type NewPoolCandidate = Omit<ScoredCandidate, "idx" | "mean" | "libraryEntryId"> & { readonly libraryEntryId?: string | null }

export class CandidatePool {
  readonly candidates: Array<PoolCandidate> = []
  readonly means: Array<number> = []
  private readonly fronts = new Map<string, { best: number; members: Array<number> }>()

  add(candidate: NewPoolCandidate): PoolCandidate {
    const index = this.candidates.length
    const added: PoolCandidate = { ...candidate, libraryEntryId: candidate.libraryEntryId ?? null, idx: index, mean: meanScore(candidate.valScores) }
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

/** The stored part of a pool candidate. */
export const toCandidateRecord = ({ valScores: _scores, mean: _mean, ...record }: PoolCandidate): CandidateRecord => record
