/**
 * The `gepa` stage kind (registered on import): decodes its options, prepares the selected adapter, runs
 * `optimize` on the stage's SQLite state and hands the best candidate on as instructions. Resumable: the
 * checkpoint lives in the stage row, so a resumed stage (`context.resuming`) continues from the last
 * completed iteration without evaluating the seed again. A stop request ends it at the next boundary.
 */
import { Effect, Schema } from "effect"
import * as path from "node:path"
import { ModelString, NonEmptyString, NonNegativeInt, PositiveInt, PositiveNumber } from "../../src/config.ts"
import { StageFailed } from "../../src/domain/errors.ts"
import { descendsFromLibrary, seedOf } from "../../src/domain/Candidate.ts"
import type { LibraryEntry } from "../../src/domain/LibraryEntry.ts"
import { OuterSummary } from "../../src/domain/StageSummary.ts"
import { Library } from "../../src/services/Store.ts"
import { type PreflightContext, type PreflightFinding, registerStageKind, type StageContext, type StageKind } from "../../src/pipeline/StageKind.ts"
import { Progress } from "../../src/services/Progress.ts"
import { affordance, affordanceText } from "./affordance.ts"
import { defaultMinibatchSize } from "./sampler.ts"
import { adapterKindRegistry, type GepaAdapterKind } from "./adapterKinds.ts"
import { promptAdapterKind } from "./adapters/promptKind.ts"
import { researchAdapterKind } from "./research/kind.ts"
import { type Components, toComponents } from "./candidate.ts"
import { optimize } from "./optimize.ts"
import { makeSqliteStatePort } from "./sqliteStatePort.ts"

const Probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { expected: "a number between 0 and 1" }))

export const GepaBudgetOptions = Schema.Struct({
  metricCalls: Schema.optional(PositiveInt),
  /** What `metricCalls` counts: evaluations actually run (default) or gepa's count for the same steps. */
  accounting: Schema.optional(Schema.Literals(["runs", "reference"])),
  costUsd: Schema.optional(PositiveNumber),
  seconds: Schema.optional(PositiveNumber),
  patience: Schema.optional(PositiveInt),
  scoreThreshold: Schema.optional(Schema.Finite),
  iterations: Schema.optional(PositiveInt),
})

const gepaOptionFields = (adapter: Schema.Top) => ({
  budget: GepaBudgetOptions,
  minibatchSize: Schema.optional(PositiveInt),
  componentSelector: Schema.optional(Schema.Literals(["round-robin", "all"])),
  candidateSelector: Schema.optional(Schema.Literals(["pareto", "current-best", "epsilon-greedy"])),
  epsilon: Schema.optional(Probability),
  merge: Schema.optional(
    Schema.Struct({ enabled: Schema.optional(Schema.Boolean), maxMerges: Schema.optional(PositiveInt), minSharedValidation: Schema.optional(PositiveInt) }),
  ),
  skipPerfect: Schema.optional(Schema.Boolean),
  perfectScore: Schema.optional(Schema.Finite),
  concurrency: Schema.optional(PositiveInt),
  cache: Schema.optional(Schema.Boolean),
  seed: Schema.optional(NonNegativeInt),
  reflectionModel: Schema.optional(ModelString),
  reflectionTemplate: Schema.optional(Schema.Union([NonEmptyString, Schema.Record(Schema.String, NonEmptyString)])),
  stopFile: Schema.optional(NonEmptyString),
  /** Prompt-library entries that join the seed: `true` (recent entries that fit), an id, or a list of ids. */
  seedFromLibrary: Schema.optional(Schema.Union([Schema.Boolean, NonEmptyString, Schema.Array(NonEmptyString)])),
  adapter,
})

type GepaOptions = Schema.Struct<ReturnType<typeof gepaOptionFields>>["Type"] & { readonly adapter: { readonly kind: string } }

const renderComponents = (components: Components): string =>
  components.length === 1 ? components[0]![1] : components.map(([name, text]) => `## ${name}\n\n${text}`).join("\n\n")

const runGepa = (context: StageContext<GepaOptions>) =>
  Effect.gen(function* () {
    const { options, config } = context
    const adapterKind = adapterKindRegistry().get(options.adapter.kind)
    if (adapterKind === undefined) return yield* new StageFailed({ message: `unknown gepa adapter kind ${JSON.stringify(options.adapter.kind)}`, stage: context.stage.name })
    const prepared = yield* adapterKind.prepare(options.adapter, context as StageContext<unknown>)
    // Say what the budget buys before the first (slow) evaluation; refuse a fresh start it cannot pay for.
    const progress = yield* Progress
    const bought =
      options.budget.metricCalls === undefined
        ? undefined
        : affordance(options.budget.metricCalls, { train: prepared.trainset.length, val: prepared.valset.length }, options.minibatchSize ?? defaultMinibatchSize)
    if (bought && bought.iterations === 0 && !context.resuming) return yield* new StageFailed({ stage: context.stage.name, message: `${context.stage.name}: ${affordanceText(bought)}` })
    yield* progress.emit({
      runId: context.runId,
      stageId: context.stage.id,
      kind: "gepa-budget",
      message: `${context.stage.name}: gepa over ${prepared.trainset.length} train / ${prepared.valset.length} validation examples (${options.adapter.kind} adapter); ${bought ? affordanceText(bought) : "no metric-call limit"}${context.resuming ? " (resuming)" : ""}`,
    })
    const state = yield* makeSqliteStatePort(context.stage.id)
    const extraSeeds = yield* librarySeeds(context, options.seedFromLibrary, toComponents(prepared.seedCandidate))
    const reflectionModel = options.reflectionModel ?? config.reflectionModel
    const result = yield* optimize({
      adapter: prepared.adapter,
      seedCandidate: prepared.seedCandidate,
      trainset: prepared.trainset,
      valset: prepared.valset,
      state,
      reflectionModel,
      ...(options.reflectionTemplate !== undefined ? { reflectionTemplate: options.reflectionTemplate } : {}),
      templateBaseDir: config.configDir,
      budget: options.budget,
      ...(options.minibatchSize !== undefined ? { minibatchSize: options.minibatchSize } : {}),
      ...(options.componentSelector !== undefined ? { componentSelector: options.componentSelector } : {}),
      ...(options.candidateSelector !== undefined ? { candidateSelector: options.candidateSelector } : {}),
      ...(options.epsilon !== undefined ? { epsilon: options.epsilon } : {}),
      ...(options.merge !== undefined ? { merge: options.merge } : {}),
      ...(options.skipPerfect !== undefined ? { skipPerfect: options.skipPerfect } : {}),
      ...(options.perfectScore !== undefined ? { perfectScore: options.perfectScore } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.cache !== undefined ? { cache: options.cache } : {}),
      seed: options.seed ?? config.seed,
      ...(extraSeeds.length > 0 ? { extraSeeds } : {}),
      ...(options.stopFile !== undefined ? { stopFile: path.resolve(config.configDir, options.stopFile) } : {}),
      shouldStop: context.shouldStop,
      runId: context.runId,
      stageId: context.stage.id,
    }).pipe(Effect.catchTag("ConfigError", (error) => Effect.fail(new StageFailed({ message: error.message, stage: context.stage.name }))))
    const seed = seedOf(result.candidates)!
    const best = result.best
    const extra = prepared.handoff ? yield* prepared.handoff(best.components) : {}
    const libraryCandidates = result.candidates.filter((c) => c.origin === "library")
    const summary: OuterSummary = {
      seedScore: seed.mean,
      bestScore: best.mean,
      bestCandidate: best.idx,
      candidates: result.candidates.length,
      iterations: result.iterations,
      metricCalls: result.metricCalls,
      accounting: result.accounting,
      evaluationsRun: result.evaluationsRun,
      referenceMetricCalls: result.referenceMetricCalls,
      reflectionCostUsd: result.reflectionCostUsd,
      stopReason: result.stopReason,
      offline: reflectionModel === "offline",
      libraryEntries: libraryCandidates.length,
      libraryWon: libraryCandidates.length > 0 ? descendsFromLibrary(result.candidates, best.idx) : null,
    }
    return {
      handoff: {
        instructions: (prepared.instructions ?? renderComponents)(best.components),
        metric: { baseline: seed.mean, best: best.mean },
        offline: reflectionModel === "offline",
        ...extra,
      },
      summary,
      stopped: result.stopReason === "stop-requested",
    }
  })

/** The budget and the adapter's own pre-flight findings (see StageKind.preflight). */
const gepaPreflight = (context: PreflightContext<GepaOptions>): Array<PreflightFinding> => {
  const { options, at } = context
  const adapterKind = adapterKindRegistry().get(options.adapter.kind)
  const findings: Array<PreflightFinding> = [...(adapterKind?.preflight?.(options.adapter, context as PreflightContext<unknown>) ?? [])]
  const sizes = adapterKind?.sizes?.(options.adapter, context as PreflightContext<unknown>)
  if (options.budget.metricCalls !== undefined && sizes) {
    const bought = affordance(options.budget.metricCalls, sizes, options.minibatchSize ?? defaultMinibatchSize)
    // What the budget buys is said when the stage starts; here only a budget that buys nothing matters.
    if (bought.iterations === 0) findings.push({ level: "error", message: `${at}.budget.metricCalls: ${affordanceText(bought)}` })
  }
  return findings
}

/** Resolves `seedFromLibrary` to library entries whose components fit the seed's. */
const librarySeeds = (context: StageContext<GepaOptions>, option: GepaOptions["seedFromLibrary"], seed: Components) =>
  Effect.gen(function* () {
    if (option === undefined || option === false) return []
    const library = yield* Library
    const names = seed.map(([name]) => name).join("\u0000")
    const fits = (components: Components) => components.map(([name]) => name).join("\u0000") === names
    const fail = (message: string) => new StageFailed({ stage: context.stage.name, message: `${context.stage.name}: seedFromLibrary: ${message}` })
    let entries: Array<LibraryEntry>
    if (option === true) {
      const metric = context.config.target.metric.name
      entries = (yield* library.library.listLibraryEntries())
        .filter((entry) => fits(entry.components) && (entry.metric === "" || entry.metric === metric))
        .slice(0, 3)
    } else {
      entries = []
      for (const id of typeof option === "string" ? [option] : option) {
        const entry = yield* library.library.getLibraryEntry(id)
        if (!entry) return yield* fail(`no prompt ${id} in the library ${library.file} (see twoloop prompts list)`)
        if (!fits(entry.components)) return yield* fail(`prompt ${entry.id} has components [${entry.components.map(([n]) => n).join(", ")}] but this stage evolves [${seed.map(([n]) => n).join(", ")}]`)
        entries.push(entry)
      }
    }
    return entries.map((entry) => ({ components: entry.components, libraryEntryId: entry.id }))
  })

/** The gepa stage kind for the given adapter kinds (the options accept any of their `adapter` schemas). */
export const makeGepaStageKind = (adapterKinds: ReadonlyArray<GepaAdapterKind<any>>) => {
  const [first, ...rest] = adapterKinds
  if (first === undefined) throw new Error("the gepa stage kind needs at least one adapter kind")
  const options = Schema.Struct(gepaOptionFields(rest.length === 0 ? first.options : Schema.Union([first.options, ...rest.map((kind) => kind.options)])))
  return {
    kind: "gepa",
    description: "GEPA: reflective evolution of text components (prompts, instructions) with Pareto selection",
    role: "outer",
    options,
    summary: OuterSummary,
    run: (context) => runGepa(context as StageContext<GepaOptions>),
    preflight: (context) => gepaPreflight(context as PreflightContext<GepaOptions>),
  } satisfies StageKind<typeof options.fields, OuterSummary>
}

/** Adds an adapter kind (replacing one of the same name) and re-registers the `gepa` stage kind with it. */
export const registerGepaAdapterKind = (adapterKind: GepaAdapterKind<any>): StageKind<any> => {
  adapterKindRegistry().set(adapterKind.kind, adapterKind)
  return registerStageKind(makeGepaStageKind([...adapterKindRegistry().values()]))
}

/** The `gepa` stage kind with the built-in adapter kinds. */
registerGepaAdapterKind(promptAdapterKind)
export const gepaStageKind = registerGepaAdapterKind(researchAdapterKind)
