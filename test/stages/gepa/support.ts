/**
 * Fixtures for the GEPA engine tests: a deterministic "keyword" adapter (an example scores 1 when the
 * named component's text contains its keyword), a reflection model whose reply is a pure function of the
 * prompt (so a replayed iteration gets the same reply), and the service layers the engine needs.
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { candidateHash, type GepaAdapter } from "../../../stages/gepa/index.ts"
import { Llm, type LlmSettings } from "../../../src/services/Llm.ts"
import { Prompts } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { tempDir } from "../../support/tmp.ts"

export interface KeywordExample {
  readonly id: string
  /** Passes when the component's text contains this word... */
  readonly keyword?: string
  /** ...or, instead, when it has at most this many words. */
  readonly maxWords?: number
  /** The component the example looks at (default `instruction`). */
  readonly component?: string
}

export const reflectionModel = "openai:reflector"

export const llmSettings: LlmSettings = {
  timeoutSeconds: 5,
  retries: 0,
  cache: false,
  temperature: undefined,
  structuredOutputs: false,
  prices: { [reflectionModel]: { inputPerMillion: 1, outputPerMillion: 2 } },
  env: {},
  backoffMillis: 1,
}

export const examples = (prefix: string, keywords: ReadonlyArray<string>, component?: string): Array<KeywordExample> =>
  keywords.map((keyword, index) => ({ id: `${prefix}${index}`, keyword, ...(component ? { component } : {}) }))

/** Examples that pass while the component stays short (so longer children can lose to their ancestors). */
export const brevityExamples = (prefix: string, count: number, maxWords: number, component?: string): Array<KeywordExample> =>
  Array.from({ length: count }, (_, index) => ({ id: `${prefix}${index}`, maxWords, ...(component ? { component } : {}) }))

const passes = (example: KeywordExample, text: string): boolean => {
  const words = text.split(/\s+/).filter((word) => word.length > 0)
  return example.keyword !== undefined ? words.includes(example.keyword) : words.length <= (example.maxWords ?? Infinity)
}

const feedbackOf = (example: KeywordExample, score: number): string =>
  score === 1 ? "correct" : example.keyword !== undefined ? `missing word: ${example.keyword}` : `too long: use at most ${example.maxWords} words`

export interface AdapterCounters {
  /** Completed adapter evaluations, one entry per call: `${candidate hash}|${example id}`. */
  readonly completed: Array<string>
  /** Calls started. */
  started: number
  /** Highest number of evaluations in flight at once. */
  peakInFlight: number
}

export interface KeywordAdapterOptions {
  /** Runs before each evaluation with the 1-based call number; may block or sleep. */
  readonly beforeEvaluate?: (call: number) => Effect.Effect<void>
  readonly offlineReflector?: GepaAdapter<KeywordExample>["offlineReflector"]
  readonly proposeNewTexts?: GepaAdapter<KeywordExample>["proposeNewTexts"]
}

export const keywordAdapter = (options: KeywordAdapterOptions = {}): { adapter: GepaAdapter<KeywordExample>; counters: AdapterCounters } => {
  const counters: AdapterCounters = { completed: [], started: 0, peakInFlight: 0 }
  let inFlight = 0
  const adapter: GepaAdapter<KeywordExample> = {
    evaluate: (batch, candidate) =>
      Effect.gen(function* () {
        counters.started += 1
        inFlight += 1
        counters.peakInFlight = Math.max(counters.peakInFlight, inFlight)
        if (options.beforeEvaluate) yield* options.beforeEvaluate(counters.started)
        const results = batch.map((example) => {
          const text = candidate.find(([name]) => name === (example.component ?? "instruction"))?.[1] ?? ""
          const hit = passes(example, text)
          return { score: hit ? 1 : 0, output: hit ? "hit" : "miss", trajectory: { example: example.id, component: example.component ?? "instruction" } }
        })
        for (const example of batch) counters.completed.push(`${candidateHash(candidate)}|${example.id}`)
        return results
      }).pipe(Effect.ensuring(Effect.sync(() => (inFlight -= 1)))),
    makeReflectiveDataset: (_candidate, evaluations, componentNames) =>
      Object.fromEntries(
        componentNames.map((name) => [
          name,
          evaluations
            .filter((evaluation) => (evaluation.example.component ?? "instruction") === name)
            .map((evaluation) => ({
              Inputs: { id: evaluation.example.id },
              "Generated Outputs": evaluation.output,
              Feedback: feedbackOf(evaluation.example, evaluation.score),
            })),
        ]),
      ),
    ...(options.offlineReflector ? { offlineReflector: options.offlineReflector } : {}),
    ...(options.proposeNewTexts ? { proposeNewTexts: options.proposeNewTexts } : {}),
  }
  return { adapter, counters }
}

/** The current instruction inside a reflection prompt rendered from the bundled template. */
export const currentInstructionOf = (prompt: string): string => {
  const start = prompt.indexOf("```\n") + 4
  return prompt.slice(start, prompt.indexOf("\n```", start))
}

/** A reflection reply that appends the first missing word named in the prompt's feedback. */
export const appendMissingWord = (prompt: string): string => {
  const current = currentInstructionOf(prompt)
  const missing = /missing word: (\S+)/.exec(prompt)?.[1]
  return `Here is the improved instruction:\n\`\`\`text\n${missing ? `${current} ${missing}` : `${current} again`}\n\`\`\`\n`
}

export const storeFile = () => path.join(tempDir("twoloop-gepa-"), "store.db")

/** Llm (mock reflection model), Store and Prompts over a store file. */
export const engineLayer = (model: ReturnType<typeof scriptedModel>, file = storeFile()) =>
  Layer.mergeAll(Llm.layerWith(llmSettings, () => model), Prompts.layer).pipe(Layer.provideMerge(Store.layer(file)))

/** Creates a run and one gepa stage in the store; returns the stage id. */
export const createStage = Effect.gen(function* () {
  const store = yield* Store
  const existing = yield* store.runs.getRun("run-1")
  if (existing === undefined) {
    yield* store.runs.insertRun({
      id: "run-1",
      name: "test",
      configFile: "pipeline.config.ts",
      configJson: "{}",
      configHash: "hash",
      arms: ["hybrid"],
      targetDir: ".",
      targetCommit: null,
      targetDirty: false,
      runDir: ".",
    })
    yield* store.runs.planStages("run-1", [{ arm: "hybrid", position: 0, kind: "gepa", name: "gepa" }])
  }
  const [stage] = yield* store.runs.listStages("run-1")
  return stage!.id
})
