/**
 * What one stage hands the next: instructions, a ranked list of research directions with the evidence
 * behind each, and (between code-search stages) the commit to start from and the edits worth re-validating.
 */
import { Schema } from "effect"
import { Edit } from "./Edit.ts"

export const DirectionEvidence = Schema.Struct({
  tries: Schema.Number,
  /** Mean relative improvement over the scenario baselines (positive = better). */
  meanDelta: Schema.NullOr(Schema.Number),
  crashes: Schema.Number,
  /** The time budget the evidence was measured at (a proxy budget; the inner stage's may favour other values). */
  budgetSeconds: Schema.optional(Schema.Number),
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

/** An edit the outer stage measured at its proxy budget, handed over for the inner stage to re-validate at its own. */
export const HandedEdit = Schema.Struct({
  description: Schema.String,
  /**
   * The tunables it sets, from which value to which (empty for a code change). It is the same move on the
   * inner stage's incumbent only while those tunables still have their `from` values there.
   */
  assignments: Schema.Array(Schema.Struct({ name: Schema.String, from: Schema.String, to: Schema.String })),
  /** The edit as it was run, against the base commit. */
  edit: Edit,
  /** Mean relative improvement over the scenario baselines at the proxy budget; null when every try crashed. */
  proxyDelta: Schema.NullOr(Schema.Number),
  tries: Schema.Number,
  crashes: Schema.Number,
  /** Relative changes up to this size were indistinguishable from noise at the proxy budget. */
  proxyNoise: Schema.Number,
  budgetSeconds: Schema.Number,
  /** "offline" or "llm". */
  proposer: Schema.String,
})
export type HandedEdit = typeof HandedEdit.Type

export const Handoff = Schema.Struct({
  instructions: Schema.optional(Schema.String),
  directions: Schema.optional(Schema.Array(Direction)),
  /** Commit (in `repo`) the next code-search stage starts from. */
  commit: Schema.optional(Schema.String),
  repo: Schema.optional(Schema.String),
  keptEdits: Schema.optional(Schema.Array(KeptEdit)),
  /** Edits measured on proxy runs, strongest first (from an outer stage). */
  edits: Schema.optional(Schema.Array(HandedEdit)),
  /** The metric the handing stage ended with (informational). */
  metric: Schema.optional(Schema.Struct({ baseline: Schema.NullOr(Schema.Number), best: Schema.NullOr(Schema.Number) })),
  offline: Schema.optional(Schema.Boolean),
})
export type Handoff = typeof Handoff.Type

export const emptyHandoff: Handoff = {}
