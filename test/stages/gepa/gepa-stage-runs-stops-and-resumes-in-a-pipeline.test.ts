import { describe, expect, it } from "@effect/vitest"
import { MockLanguageModelV3 } from "ai/test"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Llm, type LlmSettings } from "../../../src/services/Llm.ts"
import { Store } from "../../../src/services/Store.ts"
import { loadConfig } from "../../../src/pipeline/loadConfig.ts"
import { resumeRun } from "../../../src/pipeline/runPipeline.ts"
import { servicesFor } from "../../../src/pipeline/layers.ts"
import { gepaStageKind, type PromptExample } from "../../../stages/gepa/index.ts"
import { generateArithmeticDataset, toJsonl } from "../../../stages/gepa/datasets/arithmetic.ts"
import { textResult } from "../../support/mockModel.ts"
import { configFor, runPipeline } from "../../support/pipeline.ts"
import { tempDir } from "../../support/tmp.ts"
import { simulatedReflectionReply, simulatedTaskReply } from "./promptSupport.ts"

const settings: LlmSettings = { timeoutSeconds: 5, retries: 0, cache: false, temperature: undefined, structuredOutputs: false, prices: {}, env: {}, backoffMillis: 1 }
const { train, val } = generateArithmeticDataset()
const trainset = train.slice(0, 9)
const valset = val.slice(0, 9)

/** A project with a small dataset in `data/` and a placeholder target (the config schema requires one). */
const project = () => {
  const root = tempDir("twoloop-gepa-stage-")
  fs.mkdirSync(path.join(root, "target"))
  fs.writeFileSync(path.join(root, "target", "README.md"), "placeholder\n")
  fs.mkdirSync(path.join(root, "data"))
  fs.writeFileSync(path.join(root, "data", "train.jsonl"), toJsonl(trainset))
  fs.writeFileSync(path.join(root, "data", "val.jsonl"), toJsonl(valset))
  return root
}

const target = { dir: "target", editable: ["README.md"], command: "true", metric: { name: "accuracy", direction: "maximize" }, timeBudgetSeconds: 1 }

const gepaEntry = (overrides: Record<string, unknown> = {}) => ({
  kind: "gepa",
  name: "prompt",
  budget: { metricCalls: 80 },
  concurrency: 3,
  adapter: { kind: "prompt", dataset: "data", metric: "number", seedPrompt: "Solve the word problem." },
  ...overrides,
})

const configOf = (root: string, entry: Record<string, unknown> = gepaEntry()) =>
  configFor(root, { model: "openai:task", reflectionModel: "openai:reflector", seed: 3, target, stages: [entry] })

const llmLayer = (taskCalls: Array<{ system: string; user: string }>) => {
  const answer = simulatedTaskReply([...trainset, ...valset] as Array<PromptExample>)
  const text = (options: { prompt: ReadonlyArray<{ role: string; content: unknown }> }) => ({
    system: options.prompt.filter((m) => m.role === "system").map((m) => String(m.content)).join("\n"),
    user: options.prompt
      .filter((m) => m.role === "user")
      .flatMap((m) => (m.content as Array<{ text?: string }>).map((part) => part.text ?? ""))
      .join("\n"),
  })
  const task = new MockLanguageModelV3({
    doGenerate: async (options) => {
      const message = text(options as never)
      taskCalls.push(message)
      return textResult(answer(message.system, message.user))
    },
  })
  const reflector = new MockLanguageModelV3({ doGenerate: async (options) => textResult(simulatedReflectionReply(text(options as never).user)) })
  return Llm.layerWith(settings, (model) => (model === "openai:task" ? task : reflector))
}

const stageRow = (store: string) =>
  Effect.gen(function* () {
    const s = yield* Store
    const [run] = yield* s.runs.listRuns(1)
    const [stage] = yield* s.runs.listStages(run!.id)
    return { stage: stage!, candidates: yield* s.outer.listCandidates(stage!.id), runId: run!.id }
  }).pipe(Effect.provide(Store.layer(store)))

describe("the gepa stage kind", () => {
  it("is registered as an outer stage and rejects unknown option keys with their path", () => {
    expect(gepaStageKind.role).toBe("outer")
    const root = project()
    expect(() => configOf(root, gepaEntry({ budget: { metricCals: 5 } }))).toThrow(/stages\[0\]\.budget.*metricCals/)
    expect(() => configOf(root, gepaEntry({ minibatch: 3 }))).toThrow(/stages\[0\].*minibatch/)
    expect(() => configOf(root, gepaEntry({ adapter: { kind: "prompt", dataset: "data", tasModel: "openai:x" } }))).toThrow(/tasModel/)
    expect(() => configOf(root, gepaEntry({ adapter: { kind: "resarch" } }))).toThrow(/stages\[0\]\.adapter\.kind: expected one of "prompt", "research", got "resarch"/)
    expect(() => configOf(root, gepaEntry({ adapter: { kind: "research", scenarois: 3 } }))).toThrow(/stages\[0\]\.adapter\.scenarois: unknown key \(did you mean "scenarios"\?\)/)
    expect(() => configOf(root, gepaEntry({ epsilon: 2 }))).toThrow(/epsilon/)
    expect(() => configOf(root, gepaEntry({ budget: { metricCalls: 5, accounting: "rollouts" } }))).toThrow(/stages\[0\]\.budget\.accounting/)
    expect(configOf(root, gepaEntry({ budget: { metricCalls: 5, accounting: "reference" } })).stages[0]!.options).toMatchObject({ budget: { accounting: "reference" } })
    expect(configOf(root).stages[0]!.options).toMatchObject({ budget: { metricCalls: 80 }, adapter: { kind: "prompt", dataset: "data" } })
  })

  it.effect("decodes the shipped prompt-opt example config", () =>
    Effect.gen(function* () {
      const config = yield* loadConfig(path.resolve(import.meta.dirname, "../../../examples/prompt-opt/pipeline.config.ts"))
      expect(config.stages[0]).toMatchObject({ kind: "gepa", name: "prompt", options: { adapter: { kind: "prompt", metric: "number" } } })
      expect(fs.existsSync(path.resolve(config.configDir, "../../data/arithmetic/train.jsonl"))).toBe(true)
    }))

  it.live("stops on request, resumes without re-evaluating the seed, and ends like an uninterrupted run", () =>
    Effect.gen(function* () {
      const reference = configOf(project())
      const referenceRun = runPipeline(reference, { llm: llmLayer([]) })
      const referenceSummary = yield* referenceRun.effect
      expect(referenceSummary.status).toBe("completed")
      const referenceRow = yield* stageRow(reference.store)
      expect(referenceRow.candidates.length).toBeGreaterThan(1)
      expect(referenceRun.lines.some((line) => line.includes("gepa iteration 1:"))).toBe(true)
      // both counts are in the summary; the budget counted evaluations run (the default)
      const counts = referenceRow.stage.summary as { accounting: string; metricCalls: number; evaluationsRun: number; referenceMetricCalls: number }
      expect(counts.accounting).toBe("runs")
      expect(counts.metricCalls).toBe(counts.evaluationsRun)
      expect(counts.referenceMetricCalls).toBeGreaterThan(counts.evaluationsRun)

      const config = configOf(project())
      const taskCalls: Array<{ system: string; user: string }> = []
      let polls = 0
      const stopped = yield* runPipeline(config, { llm: llmLayer(taskCalls), shouldStop: Effect.sync(() => ++polls > 3) }).effect
      expect(stopped.status).toBe("interrupted")
      const halfway = yield* stageRow(config.store)
      expect(halfway.stage.status).toBe("interrupted")

      const lines: Array<string> = []
      const resumed = yield* resumeRun(halfway.runId).pipe(Effect.provide(Layer.provideMerge(llmLayer(taskCalls), servicesFor(config, { write: (line) => lines.push(line) }))))
      expect(resumed.status).toBe("completed")
      const final = yield* stageRow(config.store)
      expect(final.candidates).toEqual(referenceRow.candidates)
      expect(final.stage.summary).toEqual(referenceRow.stage.summary)
      expect(final.stage.handoff).toEqual(referenceRow.stage.handoff)
      const handoff = final.stage.handoff as { instructions: string; metric: { baseline: number; best: number } }
      expect(handoff.instructions).toBe(final.candidates[(final.stage.summary as { bestCandidate: number }).bestCandidate]!.components[0]![1])
      expect(handoff.metric.best).toBeGreaterThan(handoff.metric.baseline)

      const seedCallsOnVal = taskCalls.filter((call) => call.system === "Solve the word problem." && valset.some((example) => example.input === call.user))
      expect(seedCallsOnVal).toHaveLength(valset.length)
      expect(lines.some((line) => line.includes("seed scores"))).toBe(false)
    }))

  it.live("fails the stage with a clear message when a custom reflection template lacks a placeholder", () =>
    Effect.gen(function* () {
      const root = project()
      fs.writeFileSync(path.join(root, "reflect.md"), "Improve this:\n{{current_instruction}}\n")
      const config = configOf(root, gepaEntry({ reflectionTemplate: "reflect.md" }))
      const error = yield* Effect.flip(runPipeline(config, { llm: llmLayer([]) }).effect)
      expect(error._tag).toBe("StageFailed")
      expect(error.message).toBe(`gepa: reflection template ${path.join(root, "reflect.md")} is missing the placeholder {{examples}}`)
    }))
})
