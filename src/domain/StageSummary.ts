/**
 * What a stage reports when it ends (or stops), by role. Every stage kind declares its own summary schema,
 * which must contain its role's fields: the report, the CLI and the dashboard decode a stored summary with
 * the role's schema below (extra fields are the kind's own business).
 */
import { Schema } from "effect"

const NullableNumber = Schema.NullOr(Schema.Number)

/** What became of one edit an outer stage measured at its proxy budget, at the inner stage's budget. */
export const Transfer = Schema.Struct({
  description: Schema.String,
  /** Relative improvement at the proxy budget (positive = better). */
  proxyDelta: Schema.NullOr(Schema.Number),
  proxyBudgetSeconds: Schema.Number,
  /** `held`: kept at this stage's budget; `did not hold`: re-validated and not kept; `not run`: not re-validated. */
  outcome: Schema.Literals(["held", "did not hold", "not run"]),
  /** Improvement over the incumbent at this stage's budget (metric units), when it ran. */
  improvement: Schema.NullOr(Schema.Number),
})
export type Transfer = typeof Transfer.Type

/** Re-measurements of the incumbent and the largest drift they showed (metric units; null when none compared). */
export const Drift = Schema.Struct({
  remeasures: Schema.Number,
  largest: Schema.NullOr(Schema.Number),
})
export type Drift = typeof Drift.Type

/** An inner stage: a metric measured on real runs, noise-gated. */
export const InnerSummary = Schema.Struct({
  metric: Schema.String,
  direction: Schema.Literals(["minimize", "maximize"]),
  /** Mean of the baseline runs; null before a baseline exists. */
  baseline: NullableNumber,
  /** Mean of the incumbent's runs at the end. */
  best: NullableNumber,
  /** Improvement of the best over the baseline (positive = better). */
  gain: NullableNumber,
  /** Pooled run-to-run σ behind the keep gate. */
  noiseSigma: NullableNumber,
  /** Sequence number of the experiment that produced the best (0: the baseline). */
  experimentsToBest: NullableNumber,
  bestCommit: Schema.NullOr(Schema.String),
  /** Branches holding the kept commits. */
  branches: Schema.Array(Schema.String),
  timeBudgetSeconds: NullableNumber,
  /** Experiment slots used at once. */
  workers: Schema.Number,
  /** Process seconds of all experiments, and the wall time they spanned. */
  experimentSeconds: Schema.Number,
  wallSeconds: Schema.Number,
  /** True when the proposals came from the offline (no-LLM) proposer. */
  offline: Schema.Boolean,
  /** "offline" or the model string. */
  proposer: Schema.String,
  /** The outer stage's handed-over edits and whether they held at this stage's budget. */
  transfers: Schema.optional(Schema.Array(Transfer)),
  drift: Schema.optional(Drift),
})
export type InnerSummary = typeof InnerSummary.Type

/** An outer stage: scores of candidate instructions on proxy evaluations (0–1, higher is better). */
export const OuterSummary = Schema.Struct({
  seedScore: NullableNumber,
  bestScore: NullableNumber,
  /** Index of the best candidate. */
  bestCandidate: NullableNumber,
  candidates: Schema.Number,
  iterations: Schema.Number,
  /** The budgeted metric calls: `evaluationsRun` or `referenceMetricCalls`, as `accounting` says. */
  metricCalls: Schema.Number,
  /** Absent in summaries written before both counts were kept. */
  accounting: Schema.optional(Schema.Literals(["runs", "reference"])),
  /** Evaluations actually run (cache hits not counted). */
  evaluationsRun: Schema.optional(Schema.Number),
  /** What the reference implementation would charge for the same steps (comparable with the paper's rollouts). */
  referenceMetricCalls: Schema.optional(Schema.Number),
  reflectionCostUsd: Schema.Number,
  stopReason: Schema.String,
  /** True when the reflections came from the offline (no-LLM) reflector. */
  offline: Schema.Boolean,
  /** Library entries that joined the seed, and whether the best descends from one (null: none joined). */
  libraryEntries: Schema.Number,
  libraryWon: Schema.NullOr(Schema.Boolean),
})
export type OuterSummary = typeof OuterSummary.Type

export type StageRole = "outer" | "inner"
