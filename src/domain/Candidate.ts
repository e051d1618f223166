/**
 * The outer stage's objects: a candidate is an ordered map of named text components; evaluations are
 * per-example scores; proposals record each iteration's reflection and decision.
 */
import { Schema } from "effect"

/** Ordered components: order is the seed's key order and is kept everywhere (JSON as [name, text] pairs). */
export const Components = Schema.Array(Schema.Tuple([Schema.String, Schema.String]))
export type Components = ReadonlyArray<readonly [string, string]>

export const CandidateOrigin = Schema.Literals(["seed", "library", "reflection", "merge"])
export type CandidateOrigin = typeof CandidateOrigin.Type

export const CandidateRecord = Schema.Struct({
  idx: Schema.Number,
  hash: Schema.String,
  components: Components,
  parents: Schema.Array(Schema.Number),
  origin: CandidateOrigin,
  libraryEntryId: Schema.NullOr(Schema.String),
  iteration: Schema.Number,
  metricCalls: Schema.Number,
  offline: Schema.Boolean,
})
export type CandidateRecord = typeof CandidateRecord.Type

/** A candidate with its validation scores (example id → score) and their mean, as the engine and the reports see it. */
export interface ScoredCandidate extends CandidateRecord {
  readonly valScores: ReadonlyMap<string, number>
  readonly mean: number
}

export const Split = Schema.Literals(["train", "val"])
export type Split = typeof Split.Type

export const EvaluationRecord = Schema.Struct({
  candidateHash: Schema.String,
  split: Split,
  exampleId: Schema.String,
  score: Schema.Number,
  output: Schema.Unknown,
  trajectory: Schema.Unknown,
  chargedIteration: Schema.Number,
})
export type EvaluationRecord = typeof EvaluationRecord.Type

export const ProposalKind = Schema.Literals(["reflection", "merge", "skip"])
export type ProposalKind = typeof ProposalKind.Type

export const ProposalRecord = Schema.Struct({
  iteration: Schema.Number,
  kind: ProposalKind,
  parents: Schema.Array(Schema.Number),
  components: Schema.Array(Schema.String),
  minibatch: Schema.Array(Schema.String),
  sumBefore: Schema.NullOr(Schema.Number),
  sumAfter: Schema.NullOr(Schema.Number),
  accepted: Schema.Boolean,
  reason: Schema.String,
  reflectionPrompt: Schema.NullOr(Schema.String),
  reflectionOutput: Schema.NullOr(Schema.String),
  childIdx: Schema.NullOr(Schema.Number),
  offline: Schema.Boolean,
  metricCalls: Schema.Number,
})
export type ProposalRecord = typeof ProposalRecord.Type

// ---------------------------------------------------------------------------------------------------------
// Candidate rules: the one place the reports, the dashboard, the library and the engine take them from.

/** Mean validation score per candidate hash (only candidates with validation scores appear). */
export const validationMeans = (evaluations: ReadonlyArray<Pick<EvaluationRecord, "candidateHash" | "split" | "score">>): Map<string, number> => {
  const sums = new Map<string, { sum: number; n: number }>()
  for (const e of evaluations) {
    if (e.split !== "val") continue
    const entry = sums.get(e.candidateHash) ?? { sum: 0, n: 0 }
    entry.sum += e.score
    entry.n += 1
    sums.set(e.candidateHash, entry)
  }
  return new Map([...sums].map(([hash, { sum, n }]) => [hash, sum / n]))
}

/** The best candidate: highest mean validation score, the lowest index on ties; undefined when none is scored. */
export const bestCandidate = <C extends Pick<CandidateRecord, "idx" | "hash">>(candidates: ReadonlyArray<C>, means: ReadonlyMap<string, number>): C | undefined => {
  let best: C | undefined
  for (const candidate of candidates) {
    const mean = means.get(candidate.hash)
    if (mean === undefined) continue
    if (best === undefined || mean > means.get(best.hash)! || (mean === means.get(best.hash)! && candidate.idx < best.idx)) best = candidate
  }
  return best
}

/** The seed: the candidate of origin `seed`, else the first. */
export const seedOf = <C extends Pick<CandidateRecord, "origin">>(candidates: ReadonlyArray<C>): C | undefined => candidates.find((c) => c.origin === "seed") ?? candidates[0]

/** A candidate's lineage: its index and its ancestors' (each once), oldest first. */
export const lineageOf = (candidates: ReadonlyArray<Pick<CandidateRecord, "idx" | "parents">>, idx: number): Array<number> => {
  const byIdx = new Map(candidates.map((c) => [c.idx, c]))
  const out: Array<number> = []
  const visit = (i: number) => {
    if (out.includes(i)) return
    for (const parent of byIdx.get(i)?.parents ?? []) visit(parent)
    out.push(i)
  }
  visit(idx)
  return out
}

/** True when the candidate came from the prompt library or descends from one that did. */
export const descendsFromLibrary = (candidates: ReadonlyArray<Pick<CandidateRecord, "idx" | "parents" | "origin">>, idx: number): boolean => {
  const byIdx = new Map(candidates.map((c) => [c.idx, c]))
  return lineageOf(candidates, idx).some((i) => byIdx.get(i)?.origin === "library")
}
