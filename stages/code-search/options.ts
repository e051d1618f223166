/**
 * Options of a `code-search` stage entry. The schema carries the defaults, so the decoded options are the
 * settings; only the two defaults that come from the rest of the config (the run's time budget and seed)
 * are filled in by `resolveSettings`.
 */
import { Schema } from "effect"
import { BudgetSeconds, NonEmptyString, NonNegativeInt, NonNegativeNumber, PositiveInt, PositiveNumber, SlackSeconds, withDefault } from "../../src/config.ts"
import { defaultRunLimits } from "../experiment-kit/limits.ts"

export const CodeSearchOptions = Schema.Struct({
  budget: Schema.Struct({
    /** Every experiment row counts: baselines, candidates, confirm reruns, rejected edits, failed proposals. */
    experiments: Schema.optional(PositiveInt),
    seconds: Schema.optional(PositiveNumber),
  }).pipe(withDefault({})),
  workers: PositiveInt.pipe(withDefault(1)),
  baselineRuns: PositiveInt.pipe(withDefault(2)),
  confirmRuns: NonNegativeInt.pipe(withDefault(2)),
  /** A candidate within the gate earns confirm runs only above this fraction of it (0: any improvement). */
  confirmFrom: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { expected: "a number between 0 and 1" })).pipe(withDefault(0.5)),
  minDelta: NonNegativeNumber.pipe(withDefault(0)),
  /**
   * Before a candidate is confirmed or kept, the incumbent is measured again when its newest run is more
   * than this many experiments old, and the candidate is judged against the incumbent's recent runs (a
   * shared machine drifts). 0: never.
   */
  remeasureEvery: NonNegativeInt.pipe(withDefault(8)),
  noiseK: NonNegativeNumber.pipe(withDefault(2)),
  fixAttempts: NonNegativeInt.pipe(withDefault(2)),
  /** Default: the target's `timeBudgetSeconds`. */
  timeBudgetSeconds: Schema.optional(BudgetSeconds),
  /** Instructions text, or a path to a .md file (relative to the config), or a bundled prompt name. */
  instructions: Schema.optional(NonEmptyString),
  killFactor: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1, { expected: "a number ≥ 1" }), Schema.isLessThanOrEqualTo(1000, { expected: "a number ≤ 1000" })).pipe(
    withDefault(defaultRunLimits.killFactor),
  ),
  /** Slack added to the hard limit (budget × killFactor + graceSeconds). */
  graceSeconds: SlackSeconds.pipe(withDefault(defaultRunLimits.graceSeconds)),
  /** Seconds between SIGTERM and SIGKILL at the hard limit. */
  killGraceSeconds: SlackSeconds.pipe(withDefault(defaultRunLimits.killGraceSeconds)),
  /** Prepare the next proposal while an experiment runs. */
  pipelining: Schema.Boolean.pipe(withDefault(true)),
  /** "auto": the LLM agent unless the model is offline. */
  proposer: Schema.Literals(["auto", "offline", "llm"]).pipe(withDefault("auto")),
  /** How many recent experiments the LLM agent sees. */
  historyWindow: PositiveInt.pipe(withDefault(12)),
  /** Re-validate this many of the previous code-search stage's kept edits at this stage's budget. */
  promoteTop: NonNegativeInt.pipe(withDefault(0)),
  /** Re-validate this many of the outer stage's handed-over proxy edits (strongest first) at this stage's budget before searching. */
  revalidate: NonNegativeInt.pipe(withDefault(3)),
  /** Default: the config's `seed`. */
  seed: Schema.optional(NonNegativeInt),
  /** A file whose existence stops the stage after the running experiments (default <run dir>/STOP). */
  stopFile: Schema.optional(NonEmptyString),
})
export type CodeSearchOptions = typeof CodeSearchOptions.Type

export type CodeSearchSettings = Omit<CodeSearchOptions, "timeBudgetSeconds" | "seed"> & {
  readonly timeBudgetSeconds: number
  readonly seed: number
}

export const resolveSettings = (options: CodeSearchOptions, defaults: { timeBudgetSeconds: number; seed: number }): CodeSearchSettings => ({
  ...options,
  timeBudgetSeconds: options.timeBudgetSeconds ?? defaults.timeBudgetSeconds,
  seed: options.seed ?? defaults.seed,
})
