/**
 * The running optimization's settings (`Engine`, fixed for a run) and mutable state (`EngineState`,
 * changed by iterations), and the conversions between the state and its checkpoint.
 */
import type { Rng } from "../../src/common/rng.ts"
import { makeRng } from "../../src/common/rng.ts"
import type { GepaAdapter, GepaExample } from "./adapter.ts"
import type { Accounting, Budget } from "./budget.ts"
import type { Checkpoint } from "./checkpoint.ts"
import type { ComponentSelector } from "./componentSelector.ts"
import { budgetedCalls, type Evaluator, type MetricLedger } from "./evaluator.ts"
import { CandidatePool } from "./pool.ts"
import type { Reflector } from "./reflect.ts"
import type { SamplerState } from "./sampler.ts"
import type { GepaStatePort, StoredState } from "./statePort.ts"

export type CandidateSelector = "pareto" | "current-best" | "epsilon-greedy"

export interface Engine<Example extends GepaExample, E, R> {
  readonly adapter: GepaAdapter<Example, E, R>
  readonly port: GepaStatePort
  readonly evaluator: Evaluator<Example, E, R>
  readonly reflector: Reflector<E, R>
  readonly trainIds: ReadonlyArray<string>
  readonly trainById: ReadonlyMap<string, Example>
  readonly valset: ReadonlyArray<Example>
  readonly valIds: ReadonlyArray<string>
  readonly valById: ReadonlyMap<string, Example>
  /** Component names in seed order. */
  readonly names: ReadonlyArray<string>
  readonly budget: Budget
  readonly minibatchSize: number
  readonly componentSelector: ComponentSelector
  readonly candidateSelector: CandidateSelector
  readonly epsilon: number
  readonly merge: { readonly enabled: boolean; readonly maxMerges: number; readonly overlapFloor: number }
  readonly skipPerfect: boolean
  readonly perfectScore: number
}

export interface MergeBookkeeping {
  /** Merges scheduled (one per accepted reflective child, up to the cap). */
  due: number
  /** Merges accepted so far. */
  performed: number
  /** Triplets already tried and source combinations already built (see `tripletKey`, `sourcesKey`). */
  readonly tried: Set<string>
  lastIterationAccepted: boolean
}

export interface EngineState {
  /** The iteration being run, or the next one between iterations. */
  iteration: number
  rng: Rng
  sampler: SamplerState
  readonly pool: CandidatePool
  readonly pointers: Array<number>
  readonly ledger: MetricLedger
  reflectionCostUsd: number
  /** Seconds spent in earlier sessions of this optimization. */
  readonly elapsedBefore: number
  /** When this session started (ms). */
  readonly startedAt: number
  readonly merge: MergeBookkeeping
  readonly patience: { bestMean: number; iterationsWithoutImprovement: number; idleIterations: number }
}

export const elapsedSeconds = (state: EngineState, nowMs: number): number => state.elapsedBefore + Math.max(0, nowMs - state.startedAt) / 1000

export const toCheckpoint = (state: EngineState, nowMs: number): Checkpoint => ({
  version: 1,
  iteration: state.iteration,
  rng: state.rng.state(),
  sampler: state.sampler,
  pointers: [...state.pointers],
  candidateCount: state.pool.size,
  metricCalls: budgetedCalls(state.ledger),
  evaluationsRun: state.ledger.runs,
  referenceMetricCalls: state.ledger.reference,
  reflectionCostUsd: state.reflectionCostUsd,
  elapsedSeconds: elapsedSeconds(state, nowMs),
  merge: { due: state.merge.due, performed: state.merge.performed, tried: [...state.merge.tried], lastIterationAccepted: state.merge.lastIterationAccepted },
  patience: { ...state.patience },
})

/** A state before the seed is evaluated. */
export const freshState = (seed: number, accounting: Accounting, sampler: SamplerState, nowMs: number): EngineState => ({
  iteration: 0,
  rng: makeRng(seed),
  sampler,
  pool: new CandidatePool(),
  pointers: [],
  ledger: { accounting, runs: 0, reference: 0, iteration: 0, charged: new Set() },
  reflectionCostUsd: 0,
  elapsedBefore: 0,
  startedAt: nowMs,
  merge: { due: 0, performed: 0, tried: new Set(), lastIterationAccepted: false },
  patience: { bestMean: 0, iterationsWithoutImprovement: 0, idleIterations: 0 },
})

/**
 * The state at the stored checkpoint. `validationScores` gives each stored candidate's scores (already
 * restricted to the current validation ids). A checkpoint written before both counts were kept holds only
 * the budgeted one, which then stands for both.
 */
export const restoredState = (
  stored: StoredState,
  accounting: Accounting,
  validationScores: ReadonlyArray<ReadonlyMap<string, number>>,
  nowMs: number,
): EngineState => {
  const { checkpoint } = stored
  const pool = new CandidatePool()
  stored.candidates.forEach((record, index) =>
    pool.add({
      components: record.components,
      hash: record.hash,
      parents: record.parents,
      origin: record.origin,
      libraryEntryId: record.libraryEntryId,
      iteration: record.iteration,
      metricCalls: record.metricCalls,
      offline: record.offline,
      valScores: validationScores[index]!,
    }),
  )
  return {
    iteration: checkpoint.iteration,
    rng: makeRng(checkpoint.rng),
    sampler: checkpoint.sampler,
    pool,
    pointers: [...checkpoint.pointers],
    ledger: {
      accounting,
      runs: checkpoint.evaluationsRun ?? checkpoint.metricCalls,
      reference: checkpoint.referenceMetricCalls ?? checkpoint.metricCalls,
      iteration: checkpoint.iteration,
      charged: new Set(),
    },
    reflectionCostUsd: checkpoint.reflectionCostUsd,
    elapsedBefore: checkpoint.elapsedSeconds,
    startedAt: nowMs,
    merge: { ...checkpoint.merge, tried: new Set(checkpoint.merge.tried) },
    patience: { ...checkpoint.patience },
  }
}
