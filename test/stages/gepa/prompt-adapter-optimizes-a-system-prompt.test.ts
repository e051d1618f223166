import { describe, expect, it } from "@effect/vitest"
import { MockLanguageModelV3 } from "ai/test"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { Llm, type LlmSettings } from "../../../src/services/Llm.ts"
import { Prompts } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import {
  lastNumber,
  loadPromptExamples,
  makeMemoryStatePort,
  makePromptAdapter,
  optimize,
  type PromptExample,
  promptMetrics,
  promptOfflineReflector,
} from "../../../stages/gepa/index.ts"
import { textResult } from "../../support/mockModel.ts"
import { type OpenAiServer, startOpenAiServer } from "../../support/openaiServer.ts"
import { tempDir } from "../../support/tmp.ts"
import { simulatedReflectionReply, simulatedTaskReply } from "./promptSupport.ts"
import { storeFile } from "./support.ts"

const dataDir = path.resolve(import.meta.dirname, "../../../data/arithmetic")
const settings: LlmSettings = { timeoutSeconds: 5, retries: 0, cache: false, temperature: undefined, structuredOutputs: false, prices: {}, env: {}, backoffMillis: 1 }

const messagesOf = (prompt: ReadonlyArray<{ role: string; content: unknown }>) => ({
  system: prompt.filter((m) => m.role === "system").map((m) => String(m.content)).join("\n"),
  user: prompt
    .filter((m) => m.role === "user")
    .flatMap((m) => (m.content as Array<{ type: string; text?: string }>).map((part) => part.text ?? ""))
    .join("\n"),
})

const example = (answer: string, explanation?: string): PromptExample => ({ id: "e", input: "q", answer, ...(explanation ? { explanation } : {}) })

describe("prompt adapter metrics and data", () => {
  it("reads the last number of a reply", () => {
    expect(lastNumber("3 boxes of 12 make 36.")).toBe(36)
    expect(lastNumber("The total is 1,296 eggs")).toBe(1296)
    expect(lastNumber("It drops to -4.5 today")).toBe(-4.5)
    expect(lastNumber("no idea")).toBeUndefined()
  })

  it("scores replies and names the correct answer in the feedback", () => {
    expect(promptMetrics.number(example("60"), "So 3 score is 60.")).toEqual({ score: 1, feedback: "Correct: the answer is 60." })
    const wrong = promptMetrics.number(example("60", "1 score = 20, so 3 × 20 = 60."), "The answer is 3.")
    expect(wrong.score).toBe(0)
    expect(wrong.feedback).toBe("Incorrect: the response gives 3, but the correct answer is 60. 1 score = 20, so 3 × 20 = 60.")
    expect(promptMetrics.exact(example("Paris"), " paris. ").score).toBe(1)
    expect(promptMetrics.contains(example("Paris"), "It is Paris, France").score).toBe(1)
    expect(promptMetrics.contains(example("Paris"), "Lyon").feedback).toContain('should contain "Paris"')
  })

  it.effect("loads JSONL examples and reports a bad line with its file and number", () =>
    Effect.gen(function* () {
      const train = yield* loadPromptExamples(path.join(dataDir, "train.jsonl"))
      expect(train).toHaveLength(40)
      expect(train[0]).toMatchObject({ id: "arith-0001" })
      const file = path.join(tempDir(), "bad.jsonl")
      fs.writeFileSync(file, '{"input": "a", "answer": 1}\n{"input": "b"}\n')
      const error = yield* Effect.flip(loadPromptExamples(file))
      expect(error.message).toBe(`${file}:2: "answer" must be a string or a number`)
    }))

  it("folds the failed examples' explanations into the prompt when reflecting offline", () => {
    const reflect = promptOfflineReflector("system_prompt")
    const dataset = {
      system_prompt: [
        { Inputs: "q1", "Generated Outputs": "4", Feedback: "Incorrect: the response gives 4, but the correct answer is 60. 1 score = 20, so 3 × 20 = 60." },
        { Inputs: "q2", "Generated Outputs": "5", Feedback: "Correct: the answer is 5." },
      ],
    }
    const texts = reflect([["system_prompt", "Answer."]], dataset, ["system_prompt"])
    expect(texts).toEqual({ system_prompt: "Answer.\n\nLessons from past mistakes:\n- 1 score = 20, so 3 × 20 = 60." })
    expect(reflect([["system_prompt", texts.system_prompt!]], dataset, ["system_prompt"])).toEqual({})
  })
})

describe("prompt optimization with the mock model", () => {
  it.effect("learns the unit facts from feedback and raises validation accuracy; a failed call scores 0", () =>
    Effect.gen(function* () {
      const train = (yield* loadPromptExamples(path.join(dataDir, "train.jsonl"))).slice(0, 18)
      const val = (yield* loadPromptExamples(path.join(dataDir, "val.jsonl"))).slice(0, 15)
      const answer = simulatedTaskReply([...train, ...val])
      const broken = val[3]!.input
      const task = new MockLanguageModelV3({
        doGenerate: async (options) => {
          const { system, user } = messagesOf(options.prompt as never)
          if (user === broken) throw new Error("upstream model crashed")
          return textResult(answer(system, user))
        },
      })
      const reflector = new MockLanguageModelV3({ doGenerate: async (options) => textResult(simulatedReflectionReply(messagesOf(options.prompt as never).user)) })
      const port = makeMemoryStatePort()
      const result = yield* optimize({
        adapter: makePromptAdapter({ taskModel: "openai:task", metric: "number" }),
        seedCandidate: { system_prompt: "Solve the word problem. End with the number." },
        trainset: train,
        valset: val,
        state: port,
        reflectionModel: "openai:reflector",
        budget: { metricCalls: 200 },
        concurrency: 4,
        seed: 2,
      }).pipe(Effect.provide(Layer.mergeAll(Llm.layerWith(settings, (model) => (model === "openai:task" ? task : reflector)), Prompts.layer).pipe(Layer.provideMerge(Store.layer(storeFile())))))

      const seed = result.candidates[0]!
      expect(result.best.mean).toBeGreaterThan(seed.mean + 0.2)
      expect(result.best.components[0]![1]).toMatch(/Unit facts: .*1 \w+/)
      expect(seed.valScores.get(val[3]!.id)).toBe(0)
      expect(result.best.valScores.get(val[3]!.id)).toBe(0)
      const firstTask = messagesOf(task.doGenerateCalls[0]!.prompt as never)
      expect(firstTask.system).toBe("Solve the word problem. End with the number.")
      const reflection = port.proposals().find((p) => p.reflectionPrompt !== null)!
      expect(reflection.reflectionPrompt).toContain("but the correct answer is")
      expect(reflection.reflectionPrompt).toContain("## Generated Outputs\nLet me work it out.")
    }))
})

describe("prompt optimization over HTTP (openai-compatible provider)", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
  })
  afterAll(() => server.close())

  it.live("optimizes through a real chat-completions server with realistic replies", () =>
    Effect.gen(function* () {
      const train = (yield* loadPromptExamples(path.join(dataDir, "train.jsonl"))).slice(0, 9)
      const val = (yield* loadPromptExamples(path.join(dataDir, "val.jsonl"))).slice(0, 9)
      const answer = simulatedTaskReply([...train, ...val])
      server.setFallback({
        kind: "reply",
        respond: (request) => {
          const messages = request.body.messages as Array<{ role: string; content: string }>
          const system = messages.find((m) => m.role === "system")?.content ?? ""
          const user = messages.find((m) => m.role === "user")?.content ?? ""
          return request.body.model === "reflector" ? simulatedReflectionReply(user) : answer(system, user)
        },
      })
      const port = makeMemoryStatePort()
      // A timed-out reply would score 0 and change the run: the LLM timeout only has to outlast a busy machine.
      const result = yield* optimize({
        adapter: makePromptAdapter({ taskModel: `openai-compatible:task@${server.baseURL}`, metric: "number" }),
        seedCandidate: { system_prompt: "Solve the word problem." },
        trainset: train,
        valset: val,
        state: port,
        reflectionModel: `openai-compatible:reflector@${server.baseURL}`,
        budget: { metricCalls: 60 },
        concurrency: 3,
      }).pipe(Effect.provide(Layer.mergeAll(Llm.layer({ ...settings, timeoutSeconds: 60, env: { TWOLOOP_API_KEY: "sk-test" } }), Prompts.layer).pipe(Layer.provideMerge(Store.layer(storeFile())))))

      expect(result.best.mean).toBeGreaterThan(result.candidates[0]!.mean)
      const taskRequests = server.requests.filter((r) => r.body.model === "task")
      const reflectionRequests = server.requests.filter((r) => r.body.model === "reflector")
      expect(taskRequests.length).toBe(result.metricCalls)
      expect(reflectionRequests.length).toBe(port.proposals().filter((p) => p.kind === "reflection").length)
      expect(reflectionRequests[0]!.body.messages[0].content).toContain("Solve the word problem.")
      expect(taskRequests[0]!.body.messages[0]).toEqual({ role: "system", content: "Solve the word problem." })
      expect(port.proposals().find((p) => p.accepted)!.reflectionOutput).toContain("Here is an improved instruction")
    }))
})
