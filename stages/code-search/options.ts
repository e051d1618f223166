/** Options of a `code-search` stage entry, with their defaults. */
import { Schema } from "effect"
import { NonEmptyString, NonNegativeInt, NonNegativeNumber, PositiveInt, PositiveNumber } from "../../src/config.ts"

export const CodeSearchOptions = Schema.Struct({
  budget: Schema.optional(
    Schema.Struct({
      /** Every experiment row counts: baselines, candidates, confirm reruns, rejected edits, failed proposals. */
      experiments: Schema.optional(PositiveInt),
      seconds: Schema.optional(PositiveNumber),
    }),
  ),
  workers: Schema.optional(PositiveInt),
  baselineRuns: Schema.optional(PositiveInt),
  confirmRuns: Schema.optional(NonNegativeInt),
  minDelta: Schema.optional(NonNegativeNumber),
  noiseK: Schema.optional(NonNegativeNumber),
  fixAttempts: Schema.optional(NonNegativeInt),
  timeBudgetSeconds: Schema.optional(PositiveNumber),
  /** Instructions text, or a path to a .md file (relative to the config), or a bundled prompt name. */
  instructions: Schema.optional(NonEmptyString),
  killFactor: Schema.optional(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1, { expected: "a number ≥ 1" }))),
  graceSeconds: Schema.optional(NonNegativeNumber),
  /** Prepare the next proposal while an experiment runs (default true). */
  pipelining: Schema.optional(Schema.Boolean),
  /** "auto": the LLM agent unless the model is offline. */
  proposer: Schema.optional(Schema.Literals(["auto", "offline", "llm"])),
  /** How many recent experiments the LLM agent sees. */
  historyWindow: Schema.optional(PositiveInt),
  /** Re-validate this many of the previous code-search stage's kept edits at this stage's budget. */
  promoteTop: Schema.optional(NonNegativeInt),
  seed: Schema.optional(NonNegativeInt),
  /** A file whose existence stops the stage after the running experiments (default <run dir>/STOP). */
  stopFile: Schema.optional(NonEmptyString),
})
export type CodeSearchOptionsInput = typeof CodeSearchOptions.Type

export interface CodeSearchSettings {
  readonly experiments: number | null
  readonly seconds: number | null
  readonly workers: number
  readonly baselineRuns: number
  readonly confirmRuns: number
  readonly minDelta: number
  readonly noiseK: number
  readonly fixAttempts: number
  readonly timeBudgetSeconds: number
  readonly instructions: string | undefined
  readonly killFactor: number
  readonly graceSeconds: number
  readonly pipelining: boolean
  readonly proposer: "auto" | "offline" | "llm"
  readonly historyWindow: number
  readonly promoteTop: number
  readonly seed: number
  readonly stopFile: string | undefined
}

export const resolveSettings = (options: CodeSearchOptionsInput, defaults: { timeBudgetSeconds: number; seed: number }): CodeSearchSettings => ({
  experiments: options.budget?.experiments ?? null,
  seconds: options.budget?.seconds ?? null,
  workers: options.workers ?? 1,
  baselineRuns: options.baselineRuns ?? 2,
  confirmRuns: options.confirmRuns ?? 2,
  minDelta: options.minDelta ?? 0,
  noiseK: options.noiseK ?? 2,
  fixAttempts: options.fixAttempts ?? 2,
  timeBudgetSeconds: options.timeBudgetSeconds ?? defaults.timeBudgetSeconds,
  instructions: options.instructions,
  killFactor: options.killFactor ?? 2,
  graceSeconds: options.graceSeconds ?? 30,
  pipelining: options.pipelining ?? true,
  proposer: options.proposer ?? "auto",
  historyWindow: options.historyWindow ?? 12,
  promoteTop: options.promoteTop ?? 0,
  seed: options.seed ?? defaults.seed,
  stopFile: options.stopFile,
})

/** The harness-owned hard limit of one run. */
export const hardLimitSeconds = (settings: Pick<CodeSearchSettings, "killFactor" | "graceSeconds">, timeBudgetSeconds: number) =>
  timeBudgetSeconds * settings.killFactor + settings.graceSeconds
