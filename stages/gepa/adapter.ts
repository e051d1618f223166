/**
 * The adapter contract: the system being optimized, as the engine sees it. Examples carry a stable string
 * id (it keys the evaluation cache and the checkpointed sampler). Adapter methods may return plain values
 * or Effects, so an adapter can run experiments through services.
 */
import type { Effect } from "effect"
import type { Components } from "./candidate.ts"

export interface GepaExample {
  readonly id: string
}

/** One example's result: higher scores are better; output and trajectory must be JSON values (they are stored). */
export interface ExampleEvaluation {
  readonly score: number
  readonly output: unknown
  readonly trajectory?: unknown
  /**
   * True when nothing ran: the adapter served the result of an identical evaluation it had already run
   * (the research adapter: the same edit on the same scenario). It is not charged as an evaluation run.
   */
  readonly reused?: boolean
}

export interface EvaluatedExample<Example> {
  readonly example: Example
  readonly score: number
  readonly output: unknown
  /** Null when the adapter recorded none. */
  readonly trajectory: unknown
}

/** Records conventionally have the keys `Inputs`, `Generated Outputs` and `Feedback` (extra keys allowed). */
export type ReflectiveRecord = Readonly<Record<string, unknown>>

/** Component name → records shown to the reflection model for that component. */
export type ReflectiveDataset = Readonly<Record<string, ReadonlyArray<ReflectiveRecord>>>

export type MaybeEffect<A, E, R> = A | Effect.Effect<A, E, R>

export interface ProposerContext {
  readonly iteration: number
  /** Seeded from the run seed and the iteration (not the main RNG), so stored proposals can be replayed. */
  readonly random: () => number
}

/** Component name → new text. Components left out keep the parent's text. */
export type NewTexts = Readonly<Record<string, string>>

export interface GepaAdapter<Example extends GepaExample, E = never, R = never> {
  /**
   * Scores `candidate` on `batch`, one result per example in order. Must not fail for one bad example: it
   * scores it as a failure (and says why in the trajectory); failing the Effect ends the optimization.
   * Must be safe to call concurrently. The engine passes one example per call.
   */
  readonly evaluate: (
    batch: ReadonlyArray<Example>,
    candidate: Components,
    options: { readonly captureTraces: boolean },
  ) => MaybeEffect<ReadonlyArray<ExampleEvaluation>, E, R>
  /**
   * True when an example evaluates the same for training and validation (traces aside): a candidate's
   * validation result on an example it was already evaluated on for training is that result (the research
   * adapter's scenarios are both; a proxy run is not run twice). Such a result is not charged as a run.
   */
  readonly splitsShareResults?: boolean
  /** Per requested component, the records the reflection sees; evaluations are in minibatch order. */
  readonly makeReflectiveDataset: (
    candidate: Components,
    evaluations: ReadonlyArray<EvaluatedExample<Example>>,
    componentNames: ReadonlyArray<string>,
  ) => MaybeEffect<ReflectiveDataset, E, R>
  /** Replaces the reflection LLM call (not used when the reflection model is `offline`). */
  readonly proposeNewTexts?: (
    candidate: Components,
    dataset: ReflectiveDataset,
    componentNames: ReadonlyArray<string>,
    context: ProposerContext,
  ) => MaybeEffect<NewTexts, E, R>
  /** Used instead of the LLM when the reflection model is `offline`; its results are labelled offline. */
  readonly offlineReflector?: (
    candidate: Components,
    dataset: ReflectiveDataset,
    componentNames: ReadonlyArray<string>,
    context: ProposerContext,
  ) => MaybeEffect<NewTexts, E, R>
}
