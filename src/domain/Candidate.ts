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
