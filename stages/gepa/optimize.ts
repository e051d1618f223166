/**
 * `optimize`: GEPA over any adapter. Evaluates the seed on the validation set once, then runs iterations
 * (merge or reflective) until a stop condition holds, committing candidate, proposal and checkpoint at
 * every iteration boundary. Started on a state port that already holds a checkpoint, it resumes: the pool
 * is reloaded (the seed is never evaluated again) and the interrupted iteration is replayed from the
 * checkpoint with the same RNG state, served by the evaluation cache and the stored reflection replies.
 */
import { Clock, Effect, Option } from "effect"
import * as fs from "node:fs"
import { parseModelSpec } from "../../src/config.ts"
import type { ProposalRecord, ScoredCandidate } from "../../src/domain/Candidate.ts"
import { ConfigError, type LlmError } from "../../src/domain/errors.ts"
import type { Llm } from "../../src/services/Llm.ts"
import { Progress } from "../../src/services/Progress.ts"
import { Prompts } from "../../src/services/Prompts.ts"
import type { GepaAdapter, GepaExample } from "./adapter.ts"
import {
  type Accounting,
  type Budget,
  budgetStopReason,
  canAfford,
  defaultAccounting,
  hasTerminatingCondition,
  idleIterationLimit,
  type StopReason,
  stopReasonText,
} from "./budget.ts"
import { candidateHash, type Components, type ComponentsInput, componentNames, seedProblem, toComponents } from "./candidate.ts"
import type { ComponentSelector } from "./componentSelector.ts"
import { type CandidateSelector, type Engine, type EngineState, elapsedSeconds, freshState, restoredState, toCheckpoint } from "./engine.ts"
import { budgetedCalls, makeEvaluator } from "./evaluator.ts"
import { reflectiveIteration } from "./iteration.ts"
import { defaultMergeOverlapFloor } from "./merge.ts"
import { mergeIteration } from "./mergeStep.ts"
import { type PoolCandidate, toCandidateRecord } from "./pool.ts"
import { loadReflectionTemplates, makeReflector, type ReflectionTemplateOption } from "./reflect.ts"
import { correctionTemplateName } from "./replyFormat.ts"
import { defaultMinibatchSize, initialSamplerState } from "./sampler.ts"
import { type GepaStatePort, makeMemoryStatePort } from "./statePort.ts"

export interface OptimizeOptions<Example extends GepaExample, E = never, R = never> {
  readonly adapter: GepaAdapter<Example, E, R>
  /** The starting candidate; its component order is kept everywhere. */
  readonly seedCandidate: ComponentsInput
  /**
   * More starting candidates (e.g. from the prompt library), validated once after the seed, before the
   * first iteration. Each must have the seed's component names; one already in the pool is skipped.
   */
  readonly extraSeeds?: ReadonlyArray<{ readonly components: ComponentsInput; readonly libraryEntryId: string }>
  readonly trainset: ReadonlyArray<Example>
  readonly valset: ReadonlyArray<Example>
  /** Where state lives; default a fresh in-memory port. A port holding a checkpoint is resumed. */
  readonly state?: GepaStatePort
  /** A model string for reflection, or `offline` for the adapter's offline reflector. */
  readonly reflectionModel: string
  /** A bundled template name or `.md` path, or one per component name (others use the default). */
  readonly reflectionTemplate?: ReflectionTemplateOption
  /** Directory relative template paths resolve against. */
  readonly templateBaseDir?: string
  readonly budget: Budget
  /** Default 3. */
  readonly minibatchSize?: number
  /** Default round-robin. */
  readonly componentSelector?: ComponentSelector
  /** Default pareto. */
  readonly candidateSelector?: CandidateSelector
  /** For epsilon-greedy; default 0.1. */
  readonly epsilon?: number
  /**
   * Default off; at most `maxMerges` (default 5) accepted merges, of candidates sharing at least
   * `minSharedValidation` (default 5, as in the reference) validation ids.
   */
  readonly merge?: { readonly enabled?: boolean; readonly maxMerges?: number; readonly minSharedValidation?: number }
  /** Skip an iteration whose parent scores ≥ perfectScore on every minibatch example (default true, 1). */
  readonly skipPerfect?: boolean
  readonly perfectScore?: number
  /** Adapter calls in flight at once (default 1). */
  readonly concurrency?: number
  /** Serve repeated (candidate, split, example) evaluations from the cache (default true). */
  readonly cache?: boolean
  /** Seeds the one RNG of the run (default 0). */
  readonly seed?: number
  /** Stop at the next iteration boundary once this file exists. */
  readonly stopFile?: string
  /** Stop at the next iteration boundary once this turns true. */
  readonly shouldStop?: Effect.Effect<boolean>
  /** For the LLM ledger and progress events (progress is emitted only with a run id). */
  readonly runId?: string | null
  readonly stageId?: number | null
}

/** A candidate of the result: the stored record (`metricCalls`: the budget spent before its full validation) with its validation scores. */
export type OptimizedCandidate = ScoredCandidate

export interface OptimizeResult {
  /** Highest mean validation score (first found wins ties). */
  readonly best: OptimizedCandidate
  readonly candidates: ReadonlyArray<OptimizedCandidate>
  /** The budgeted count: `evaluationsRun` or `referenceMetricCalls`, as `accounting` says. */
  readonly metricCalls: number
  readonly accounting: Accounting
  /** Evaluations actually run (cache hits not counted). */
  readonly evaluationsRun: number
  /** What gepa would have charged for the same steps (every minibatch's length, every full validation). */
  readonly referenceMetricCalls: number
  readonly reflectionCostUsd: number
  /** Iterations completed (merge and reflective), across resumed sessions. */
  readonly iterations: number
  readonly stopReason: StopReason
}

const isPositiveInteger = (value: number) => Number.isInteger(value) && value > 0

const idsProblem = (name: string, examples: ReadonlyArray<GepaExample>): string | undefined => {
  if (examples.length === 0) return `the ${name} is empty`
  const seen = new Set<string>()
  for (const example of examples) {
    if (typeof example.id !== "string") return `every ${name} example needs a string id`
    if (seen.has(example.id)) return `the ${name} has the id ${JSON.stringify(example.id)} twice`
    seen.add(example.id)
  }
  return undefined
}

const optionsProblem = <Example extends GepaExample, E, R>(options: OptimizeOptions<Example, E, R>, seed: Components): string | undefined =>
  seedProblem(seed) ??
  idsProblem("train set", options.trainset) ??
  idsProblem("validation set", options.valset) ??
  (options.minibatchSize !== undefined && !isPositiveInteger(options.minibatchSize) ? "minibatchSize must be a positive integer" : undefined) ??
  (options.concurrency !== undefined && !isPositiveInteger(options.concurrency) ? "concurrency must be a positive integer" : undefined) ??
  (options.epsilon !== undefined && !(options.epsilon >= 0 && options.epsilon <= 1) ? "epsilon must be between 0 and 1" : undefined) ??
  (hasTerminatingCondition(options.budget) ? undefined : "the budget needs iterations, metricCalls, costUsd, seconds or patience, or it never ends") ??
  (options.reflectionModel === "offline" && options.adapter.offlineReflector === undefined
    ? "the reflection model is offline but the adapter has no offline reflector"
    : undefined) ??
  (options.adapter.proposeNewTexts === undefined && parseModelSpec(options.reflectionModel) === undefined
    ? `the reflection model ${JSON.stringify(options.reflectionModel)} is not "offline", "openai:<model>" or "openai-compatible:<model>@<base URL>"`
    : undefined)

const formatMean = (value: number) => value.toFixed(3)

export const optimize = <Example extends GepaExample, E = never, R = never>(
  options: OptimizeOptions<Example, E, R>,
): Effect.Effect<OptimizeResult, ConfigError | LlmError | E, R | Llm | Prompts> =>
  Effect.gen(function* () {
    const seedComponents = toComponents(options.seedCandidate)
    const problem = optionsProblem(options, seedComponents)
    if (problem !== undefined) return yield* new ConfigError({ message: `gepa: ${problem}` })
    const names = componentNames(seedComponents)
    const seed = options.seed ?? 0
    const runId = options.runId ?? null
    const stageId = options.stageId ?? null
    const mode = options.reflectionModel === "offline" ? "offline" : options.adapter.proposeNewTexts ? "custom" : "llm"
    const templates = yield* loadReflectionTemplates(options.reflectionTemplate, names, options.templateBaseDir)
    const correction = yield* (yield* Prompts).load(correctionTemplateName)
    const port = options.state ?? makeMemoryStatePort()
    const valIds = options.valset.map((example) => example.id)

    const startedAt = yield* Clock.currentTimeMillis
    const stored = yield* port.load
    let state: EngineState
    const accounting = options.budget.accounting ?? defaultAccounting
    if (stored === undefined) state = freshState(seed, accounting, initialSamplerState, startedAt)
    else {
      const scores: Array<ReadonlyMap<string, number>> = []
      for (const record of stored.candidates) {
        const all = yield* port.validationScores(record.hash)
        scores.push(new Map(valIds.filter((id) => all.has(id)).map((id) => [id, all.get(id)!])))
      }
      state = restoredState(stored, accounting, scores, startedAt)
    }

    const engine: Engine<Example, E, R> = {
      adapter: options.adapter,
      port,
      evaluator: makeEvaluator({ adapter: options.adapter, port, cache: options.cache ?? true, concurrency: options.concurrency ?? 1, budget: options.budget, ledger: state.ledger }),
      reflector: makeReflector({ mode, adapter: options.adapter, port, model: options.reflectionModel, templates, correction, seed, runId, stageId }),
      trainIds: options.trainset.map((example) => example.id),
      trainById: new Map(options.trainset.map((example) => [example.id, example])),
      valset: options.valset,
      valIds,
      valById: new Map(options.valset.map((example) => [example.id, example])),
      names,
      budget: options.budget,
      minibatchSize: options.minibatchSize ?? defaultMinibatchSize,
      componentSelector: options.componentSelector ?? "round-robin",
      candidateSelector: options.candidateSelector ?? "pareto",
      epsilon: options.epsilon ?? 0.1,
      merge: {
        enabled: options.merge?.enabled ?? false,
        maxMerges: options.merge?.maxMerges ?? 5,
        overlapFloor: options.merge?.minSharedValidation ?? defaultMergeOverlapFloor,
      },
      skipPerfect: options.skipPerfect ?? true,
      perfectScore: options.perfectScore ?? 1,
    }

    const progress = yield* Effect.serviceOption(Progress)
    const emit = (kind: string, message: string, data?: unknown) =>
      runId !== null && Option.isSome(progress) ? progress.value.emit({ runId, stageId, kind, message, data }) : Effect.void
    const budgetText = () =>
      `metric calls ${budgetedCalls(state.ledger)}/${options.budget.metricCalls ?? "unlimited"} (${
        accounting === "runs" ? `${state.ledger.reference} at the reference's count` : `${state.ledger.runs} evaluations run`
      })`
    const counts = () => ({ metricCalls: budgetedCalls(state.ledger), evaluationsRun: state.ledger.runs, referenceMetricCalls: state.ledger.reference })
    const commit = (candidate: PoolCandidate | undefined, proposal: ProposalRecord | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        port.commit({ candidate: candidate && toCandidateRecord(candidate), proposal, checkpoint: toCheckpoint(state, now) }),
      )

    if (stored === undefined) {
      const hash = candidateHash(seedComponents)
      const needed = yield* engine.evaluator.chargeable(hash, "val", valIds)
      if (!canAfford(options.budget, 0, needed))
        return yield* new ConfigError({ message: `gepa: the metric-call budget (${options.budget.metricCalls}) cannot pay for the seed's validation (${needed} evaluations)` })
      const results = yield* engine.evaluator.evaluate({ components: seedComponents, hash }, "val", options.valset)
      const seedCandidate = state.pool.add({
        components: seedComponents,
        hash,
        parents: [],
        origin: "seed",
        iteration: 0,
        metricCalls: 0,
        offline: false,
        valScores: new Map(results.map((result) => [result.example.id, result.score])),
      })
      state.pointers.push(0)
      state.patience.bestMean = seedCandidate.mean
      state.iteration = 1
      yield* commit(seedCandidate, undefined)
      yield* emit("seed-evaluated", `gepa: seed scores ${formatMean(seedCandidate.mean)} on ${valIds.length} validation examples; ${budgetText()}`, {
        mean: seedCandidate.mean,
        ...counts(),
      })
    }

    // Library seeds join before the first iteration; a resumed run adds the ones a crash left out.
    if (state.iteration === 1 && (options.extraSeeds?.length ?? 0) > 0) {
      state.ledger.iteration = 0
      state.ledger.charged = new Set()
      for (const extra of options.extraSeeds ?? []) {
        const components = toComponents(extra.components)
        const extraNames = componentNames(components)
        if (extraNames.join("\u0000") !== names.join("\u0000"))
          return yield* new ConfigError({ message: `gepa: library entry ${extra.libraryEntryId} has components [${extraNames.join(", ")}] but this stage evolves [${names.join(", ")}]` })
        const hash = candidateHash(components)
        if (state.pool.candidates.some((candidate) => candidate.hash === hash)) continue
        const needed = yield* engine.evaluator.chargeable(hash, "val", valIds)
        if (!canAfford(options.budget, budgetedCalls(state.ledger), needed)) {
          yield* emit("library-seed-skipped", `gepa: the budget cannot pay for validating library entry ${extra.libraryEntryId}; skipped`)
          continue
        }
        const discovery = budgetedCalls(state.ledger)
        const results = yield* engine.evaluator.evaluate({ components, hash }, "val", options.valset)
        const added = state.pool.add({
          components,
          hash,
          parents: [],
          origin: "library",
          libraryEntryId: extra.libraryEntryId,
          iteration: 0,
          metricCalls: discovery,
          offline: false,
          valScores: new Map(results.map((result) => [result.example.id, result.score])),
        })
        state.pointers.push(0)
        state.patience.bestMean = Math.max(state.patience.bestMean, added.mean)
        yield* commit(added, undefined)
        yield* emit("library-seed-evaluated", `gepa: library entry ${extra.libraryEntryId} joins as candidate ${added.idx} (val mean ${formatMean(added.mean)}); ${budgetText()}`, {
          candidate: added.idx,
          mean: added.mean,
        })
      }
    }

    const idleLimit = idleIterationLimit(engine.trainIds.length, engine.minibatchSize)
    const checkStop = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const reason = budgetStopReason(options.budget, {
        iterations: state.iteration - 1,
        metricCalls: budgetedCalls(state.ledger),
        reflectionCostUsd: state.reflectionCostUsd,
        elapsedSeconds: elapsedSeconds(state, now),
        iterationsWithoutImprovement: state.patience.iterationsWithoutImprovement,
        bestMean: state.pool.bestMean(),
        idleIterations: state.patience.idleIterations,
      }, idleLimit)
      if (reason !== undefined) return reason
      const stopFile = options.stopFile
      if (stopFile !== undefined && (yield* Effect.sync(() => fs.existsSync(stopFile)))) return "stop-file" as const
      if (options.shouldStop !== undefined && (yield* options.shouldStop)) return "stop-requested" as const
      return undefined
    })

    let stopReason: StopReason
    for (;;) {
      const reason = yield* checkStop
      if (reason !== undefined) {
        stopReason = reason
        break
      }
      state.ledger.iteration = state.iteration
      state.ledger.charged = new Set()
      const runsBefore = state.ledger.runs
      const outcome = (yield* mergeIteration(engine, state)) ?? (yield* reflectiveIteration(engine, state))
      if (outcome.kind === "stop") {
        stopReason = outcome.reason
        break
      }
      const { proposal } = outcome
      if (proposal.kind === "merge") state.merge.lastIterationAccepted = false
      else {
        state.merge.lastIterationAccepted = proposal.accepted
        if (proposal.accepted && engine.merge.enabled && state.merge.performed + state.merge.due < engine.merge.maxMerges) state.merge.due += 1
      }
      const bestMean = state.pool.bestMean()
      if (bestMean > state.patience.bestMean) {
        state.patience.bestMean = bestMean
        state.patience.iterationsWithoutImprovement = 0
      } else state.patience.iterationsWithoutImprovement += 1
      state.patience.idleIterations = state.ledger.runs === runsBefore ? state.patience.idleIterations + 1 : 0
      const iteration = state.iteration
      state.iteration += 1
      yield* commit(outcome.candidate, { ...proposal, metricCalls: budgetedCalls(state.ledger) })
      if (outcome.candidate !== undefined)
        yield* emit("candidate-accepted", `gepa: candidate ${outcome.candidate.idx} accepted at iteration ${iteration} (val mean ${formatMean(outcome.candidate.mean)})`, {
          iteration,
          candidate: outcome.candidate.idx,
          mean: outcome.candidate.mean,
        })
      yield* emit(
        "iteration-finished",
        `gepa iteration ${iteration}: ${outcome.summary}; best val mean ${formatMean(bestMean)} (candidate ${state.pool.bestIndex()}); ${budgetText()}`,
        { iteration, accepted: proposal.accepted, bestMean, ...counts() },
      )
    }

    const candidates = state.pool.candidates
    const best = candidates[state.pool.bestIndex()]!
    yield* emit(
      "optimization-finished",
      `gepa finished after ${state.iteration - 1} iterations: ${stopReasonText[stopReason]}; best candidate ${best.idx} (val mean ${formatMean(best.mean)}); ${budgetText()}`,
      { stopReason, best: best.idx, mean: best.mean, ...counts() },
    )
    return {
      best,
      candidates,
      ...counts(),
      accounting,
      reflectionCostUsd: state.reflectionCostUsd,
      iterations: state.iteration - 1,
      stopReason,
    }
  }).pipe(Effect.withSpan("gepa.optimize"))
