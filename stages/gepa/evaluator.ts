/**
 * Evaluating a candidate on a batch: distinct ids only, the evaluation cache first, the budget reserved
 * before anything runs, then at most `concurrency` adapter calls at a time. A finished result is stored
 * at once unless the previous store was under 50 ms ago; such quick results are stored together with the
 * next one, and at the latest when the batch ends, fails or is interrupted (a hard kill can lose at most
 * 50 ms of results, which a replay evaluates again).
 *
 * Every batch is counted both ways (see `Accounting`). Runs are charged per iteration: a key costs one
 * the first time the iteration needs it, unless a cached result from an earlier iteration serves it. A
 * cached result charged to the current iteration (left by an interrupted attempt of it) is charged again,
 * so a replayed iteration counts exactly what the uninterrupted one would have. Without the cache every
 * adapter call is charged. A result the adapter reports as `reused` (nothing ran) is refunded and stored
 * as charged to no iteration, so a replay does not charge it either. The reference count adds the batch's
 * length (or the step's reference charge).
 */
import { Effect, Exit } from "effect"
import type { EvaluationRecord, Split } from "../../src/domain/Candidate.ts"
import type { EvaluatedExample, ExampleEvaluation, GepaAdapter, GepaExample, MaybeEffect } from "./adapter.ts"
import { type Accounting, type Budget, canAfford } from "./budget.ts"
import type { Components } from "./candidate.ts"
import type { GepaStatePort } from "./statePort.ts"
import { failpoint } from "../../src/services/failpoints.ts"

/** Mutable charge accounting of the running optimization. */
export interface MetricLedger {
  readonly accounting: Accounting
  /** Evaluations run (as an uninterrupted run would have run them). */
  runs: number
  /** Reference-equivalent metric calls. */
  reference: number
  /** The iteration evaluations are charged to. */
  iteration: number
  /** Keys already charged to `iteration`. */
  charged: Set<string>
}

export interface EvaluationTarget {
  readonly components: Components
  readonly hash: string
}

export const liftEffect = <A, E, R>(value: MaybeEffect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.isEffect(value) ? (value as Effect.Effect<A, E, R>) : Effect.succeed(value as A)

/** Results finishing closer together than this are stored in one transaction. */
const flushIntervalMillis = 50

/** The count the budget is checked against. */
export const budgetedCalls = (ledger: MetricLedger): number => (ledger.accounting === "runs" ? ledger.runs : ledger.reference)

/** The charged iteration stored with a result nothing was run for: no iteration, so no replay charges it. */
const reusedIteration = -1

const chargeKey = (hash: string, split: Split, exampleId: string) => `${hash}\u0000${split}\u0000${exampleId}`

const distinctById = <Example extends GepaExample>(examples: ReadonlyArray<Example>): Array<Example> => {
  const seen = new Set<string>()
  return examples.filter((example) => (seen.has(example.id) ? false : (seen.add(example.id), true)))
}

export interface Evaluator<Example extends GepaExample, E, R> {
  /**
   * Results in the order of `examples` (repeated ids repeat their result). `referenceCalls` is the step's
   * reference charge when it is not the batch's length (a merge's full validation after its gate).
   */
  readonly evaluate: (
    target: EvaluationTarget,
    split: Split,
    examples: ReadonlyArray<Example>,
    referenceCalls?: number,
  ) => Effect.Effect<Array<EvaluatedExample<Example>>, E, R>
  /** How many budgeted metric calls evaluating these ids (in one batch) would charge now. */
  readonly chargeable: (hash: string, split: Split, exampleIds: ReadonlyArray<string>) => Effect.Effect<number>
}

export const makeEvaluator = <Example extends GepaExample, E, R>(settings: {
  readonly adapter: GepaAdapter<Example, E, R>
  readonly port: GepaStatePort
  readonly cache: boolean
  readonly concurrency: number
  readonly budget: Budget
  readonly ledger: MetricLedger
}): Evaluator<Example, E, R> => {
  const { adapter, port, ledger } = settings

  const cachedOf = (hash: string, split: Split, exampleIds: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, EvaluationRecord>> =>
    settings.cache ? port.lookupEvaluations(hash, split, exampleIds) : Effect.succeed(new Map())

  const isCharge = (hash: string, split: Split, exampleId: string, cachedIteration: number | undefined) =>
    !ledger.charged.has(chargeKey(hash, split, exampleId)) && (cachedIteration === undefined || cachedIteration === ledger.iteration)

  const chargeable = (hash: string, split: Split, exampleIds: ReadonlyArray<string>): Effect.Effect<number> => {
    if (ledger.accounting === "reference") return Effect.succeed(exampleIds.length)
    const distinct = [...new Set(exampleIds)]
    if (!settings.cache) return Effect.succeed(distinct.length)
    return Effect.gen(function* () {
      const cached = yield* cachedOf(hash, split, distinct)
      const training = split === "val" && adapter.splitsShareResults ? yield* port.lookupEvaluations(hash, "train", distinct) : new Map<string, EvaluationRecord>()
      return distinct.filter((exampleId) => !training.has(exampleId) && isCharge(hash, split, exampleId, cached.get(exampleId)?.chargedIteration)).length
    })
  }

  const runOne = (target: EvaluationTarget, split: Split, example: Example, finished: (record: EvaluationRecord) => Effect.Effect<void>) =>
    Effect.suspend(() => liftEffect(adapter.evaluate([example], target.components, { captureTraces: split === "train" }))).pipe(
      Effect.flatMap((results: ReadonlyArray<ExampleEvaluation>) => {
        const result = results[0]
        if (results.length !== 1 || result === undefined || typeof result.score !== "number" || !Number.isFinite(result.score))
          return Effect.die(new Error(`the adapter must return one finite score per example; got ${JSON.stringify(results)?.slice(0, 200)} for ${example.id}`))
        return Effect.succeed({ score: result.score, output: result.output ?? null, trajectory: result.trajectory ?? null, reused: result.reused === true })
      }),
      Effect.onExit((exit) =>
        Exit.isSuccess(exit)
          ? finished({ candidateHash: target.hash, split, exampleId: example.id, score: exit.value.score, output: exit.value.output, trajectory: exit.value.trajectory, chargedIteration: exit.value.reused ? reusedIteration : ledger.iteration })
          : Effect.void,
      ),
    )

  /**
   * Validation results an adapter that shares results across splits already has from training: stored as
   * validation results charged to no iteration (so neither this run nor a replay charges them).
   */
  const sharedFromTraining = (target: EvaluationTarget, split: Split, exampleIds: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      if (split !== "val" || !adapter.splitsShareResults || !settings.cache || exampleIds.length === 0) return new Map<string, EvaluationRecord>()
      const training = yield* port.lookupEvaluations(target.hash, "train", exampleIds)
      const copies = [...training.values()].map((record) => ({ ...record, split: "val" as const, chargedIteration: reusedIteration }))
      if (copies.length > 0) yield* port.recordEvaluations(copies)
      return new Map(copies.map((record) => [record.exampleId, record]))
    })

  const evaluate = (target: EvaluationTarget, split: Split, examples: ReadonlyArray<Example>, referenceCalls = examples.length) =>
    Effect.gen(function* () {
      const distinct = distinctById(examples)
      const stored = yield* cachedOf(target.hash, split, distinct.map((example) => example.id))
      const shared = yield* sharedFromTraining(target, split, distinct.filter((example) => !stored.has(example.id)).map((example) => example.id))
      const cached = new Map([...stored, ...shared])
      const fresh = distinct.filter((example) => !cached.has(example.id))
      const charged = settings.cache
        ? distinct.filter((example) => isCharge(target.hash, split, example.id, cached.get(example.id)?.chargedIteration))
        : fresh
      const reserved = ledger.accounting === "runs" ? charged.length : referenceCalls
      if (!canAfford(settings.budget, budgetedCalls(ledger), reserved))
        return yield* Effect.die(new Error(`gepa: reserving ${reserved} metric calls would exceed the budget (${budgetedCalls(ledger)} used of ${settings.budget.metricCalls})`))
      ledger.runs += charged.length
      ledger.reference += referenceCalls
      for (const example of charged) ledger.charged.add(chargeKey(target.hash, split, example.id))

      const pending: Array<EvaluationRecord> = []
      let flushedAt = Date.now()
      const flush = Effect.suspend(() => (pending.length === 0 ? Effect.void : port.recordEvaluations(pending.splice(0))))
      const finished = (record: EvaluationRecord) =>
        Effect.suspend(() => {
          pending.push(record)
          if (Date.now() - flushedAt < flushIntervalMillis) return Effect.void
          flushedAt = Date.now()
          return split === "val" ? Effect.andThen(flush, failpoint("gepa-val-evaluation")) : flush
        })
      const computed = yield* Effect.forEach(fresh, (example) => runOne(target, split, example, finished), { concurrency: settings.concurrency }).pipe(
        Effect.ensuring(flush),
      )
      fresh.forEach((example, index) => {
        if (computed[index]!.reused && charged.includes(example)) ledger.runs -= 1
      })
      const results = new Map<string, { score: number; output: unknown; trajectory: unknown }>()
      for (const [exampleId, record] of cached) results.set(exampleId, { score: record.score, output: record.output, trajectory: record.trajectory })
      fresh.forEach((example, index) => results.set(example.id, computed[index]!))
      return examples.map((example) => ({ example, ...results.get(example.id)! }))
    })

  return { evaluate, chargeable }
}
