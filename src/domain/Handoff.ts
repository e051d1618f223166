/**
 * What one stage hands the next: instructions, a ranked list of research directions with the evidence
 * behind each, and (between code-search stages) the commit to start from and the edits worth re-validating.
 */
import { Schema } from "effect"
import { Edit } from "./Edit.ts"

export const DirectionEvidence = Schema.Struct({
  tries: Schema.Number,
  meanDelta: Schema.NullOr(Schema.Number),
  crashes: Schema.Number,
})
export type DirectionEvidence = typeof DirectionEvidence.Type

export const Direction = Schema.Struct({
  text: Schema.String,
  /** Tunable constants the direction is about (used by the offline proposer to narrow its moves). */
  constants: Schema.Array(Schema.String),
  evidence: Schema.optional(DirectionEvidence),
})
export type Direction = typeof Direction.Type

export const KeptEdit = Schema.Struct({
  experimentId: Schema.Number,
  commit: Schema.String,
  description: Schema.String,
  direction: Schema.NullOr(Schema.String),
  delta: Schema.Number,
  edit: Edit,
})
export type KeptEdit = typeof KeptEdit.Type

export const Handoff = Schema.Struct({
  instructions: Schema.optional(Schema.String),
  directions: Schema.optional(Schema.Array(Direction)),
  /** Commit (in `repo`) the next code-search stage starts from. */
  commit: Schema.optional(Schema.String),
  repo: Schema.optional(Schema.String),
  keptEdits: Schema.optional(Schema.Array(KeptEdit)),
  /** The metric the handing stage ended with (informational). */
  metric: Schema.optional(Schema.Struct({ baseline: Schema.NullOr(Schema.Number), best: Schema.NullOr(Schema.Number) })),
  offline: Schema.optional(Schema.Boolean),
})
export type Handoff = typeof Handoff.Type

export const emptyHandoff: Handoff = {}
