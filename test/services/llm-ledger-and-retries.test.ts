import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as path from "node:path"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { Llm, type LlmSettings } from "../../src/services/Llm.ts"
import { Store } from "../../src/services/Store.ts"
import { scriptedModel } from "../support/mockModel.ts"
import { type OpenAiServer, startOpenAiServer } from "../support/openaiServer.ts"
import { tempDir } from "../support/tmp.ts"

const Answer = Schema.Struct({ answer: Schema.String, confidence: Schema.Number })

const settings = (overrides: Partial<LlmSettings> = {}): LlmSettings => ({
  timeoutSeconds: 30,
  retries: 2,
  cache: false,
  temperature: undefined,
  structuredOutputs: true,
  prices: { "openai-compatible:priced-model": { inputPerMillion: 1, outputPerMillion: 2 } },
  env: { TWOLOOP_API_KEY: "sk-test-secret-key-0123456789" },
  backoffMillis: 10,
  ...overrides,
})

const storeLayer = () => Store.layer(path.join(tempDir(), "store.db"))

describe("Llm with the AI SDK mock model", () => {
  it.effect("decodes structured output with the domain schema and sends that schema to the model", () => {
    const model = scriptedModel([JSON.stringify({ answer: "42", confidence: 0.9 })])
    const layer = Llm.layerWith(settings({ prices: { "openai:mock": { inputPerMillion: 1, outputPerMillion: 2 } } }), () => model).pipe(Layer.provideMerge(storeLayer()))
    return Effect.gen(function* () {
      const llm = yield* Llm
      const result = yield* llm.generateObject({ purpose: "test", model: "openai:mock", prompt: "What is six times seven?", schema: Answer })
      expect(result.value).toEqual({ answer: "42", confidence: 0.9 })
      const call = model.doGenerateCalls[0]!
      expect(call.responseFormat?.type).toBe("json")
      expect(JSON.stringify((call.responseFormat as { schema?: unknown }).schema)).toContain('"confidence"')
      expect(JSON.stringify(call.prompt)).toContain("six times seven")
      const store = yield* Store
      const [row] = yield* store.use((db) => db.prepare("SELECT * FROM llm_calls").all() as Array<Record<string, unknown>>)
      expect(row).toMatchObject({ purpose: "test", model: "openai:mock", input_tokens: 100, output_tokens: 50, cached: 0, error: null })
      expect(row!.cost_usd).toBeCloseTo((100 * 1 + 50 * 2) / 1e6, 12)
    }).pipe(Effect.provide(layer))
  })

  it.effect("refuses the offline model with a clear error", () =>
    Effect.gen(function* () {
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "test", model: "offline", prompt: "hi" }))
      expect(error.reason).toBe("offline")
    }).pipe(Effect.provide(Llm.layerWith(settings(), () => scriptedModel(["x"])).pipe(Layer.provideMerge(storeLayer())))))
})

describe("Llm over HTTP through @ai-sdk/openai-compatible", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = (overrides: Partial<LlmSettings> = {}) => Llm.layer(settings(overrides)).pipe(Layer.provideMerge(storeLayer()))
  const model = () => `openai-compatible:priced-model@${server.baseURL}`
  const ledger = Effect.gen(function* () {
    const store = yield* Store
    return yield* store.use((db) => db.prepare("SELECT * FROM llm_calls ORDER BY id").all() as Array<Record<string, any>>)
  })

  it.live("sends the key from TWOLOOP_API_KEY, records tokens and cost, and never stores the key", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: "hello there" })
      const llm = yield* Llm
      const result = yield* llm.generateText({ purpose: "greet", model: model(), prompt: "say hello (key sk-test-secret-key-0123456789)" })
      expect(result.text).toBe("hello there")
      expect(server.requests[0]!.headers.authorization).toBe("Bearer sk-test-secret-key-0123456789")
      const rows = yield* ledger
      expect(rows).toHaveLength(1)
      expect(rows[0]!.input_tokens).toBeGreaterThan(0)
      expect(rows[0]!.cost_usd).not.toBeNull()
      expect(JSON.stringify(rows)).not.toContain("sk-test-secret-key-0123456789")
      expect(rows[0]!.prompt_text).toContain("[redacted]")
    }).pipe(Effect.provide(layer())))

  it.live("retries a 429 and a 500, recording each attempt", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "status", status: 429 }, { kind: "status", status: 500 }, { kind: "text", content: "finally" })
      const llm = yield* Llm
      const result = yield* llm.generateText({ purpose: "retry", model: model(), prompt: "p" })
      expect(result.text).toBe("finally")
      const rows = yield* ledger
      expect(rows.map((r) => [r.attempt, r.error === null])).toEqual([
        [1, false],
        [2, false],
        [3, true],
      ])
      expect(rows[0]!.error).toContain("HTTP 429")
    }).pipe(Effect.provide(layer())))

  it.live("gives up after the bounded retries with an LlmError", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "status", status: 500 }, { kind: "status", status: 500 }, { kind: "status", status: 500 })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "fail", model: model(), prompt: "p" }))
      expect(error._tag).toBe("LlmError")
      expect(error.reason).toBe("http")
      expect((yield* ledger).length).toBe(3)
    }).pipe(Effect.provide(layer())))

  it.live("does not retry a 400", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "status", status: 400 })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "bad", model: model(), prompt: "p" }))
      expect(error.retryable).toBe(false)
      expect((yield* ledger).length).toBe(1)
    }).pipe(Effect.provide(layer())))

  it.live("reports malformed JSON for structured output as malformed, with the raw reply", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: '{"answer": "42", "confidence": ' })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateObject({ purpose: "json", model: model(), prompt: "p", schema: Answer }))
      expect(error.reason).toBe("malformed")
      expect(error.raw).toContain('"answer"')
      expect(server.requests.at(-1)!.body.response_format.type).toBe("json_schema")
    }).pipe(Effect.provide(layer())))

  it.live("rejects a reply whose JSON does not match the schema", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: JSON.stringify({ answer: 42 }) })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateObject({ purpose: "json", model: model(), prompt: "p", schema: Answer }))
      expect(error.reason).toBe("malformed")
    }).pipe(Effect.provide(layer())))

  it.live("a malformed completion body is an error, not a crash", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "raw", body: "<html>gateway</html>" })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "raw", model: model(), prompt: "p" }))
      expect(error._tag).toBe("LlmError")
    }).pipe(Effect.provide(layer({ retries: 0 }))))

  it.live("an empty reply is an error", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: "   " })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "empty", model: model(), prompt: "p" }))
      expect(error.reason).toBe("empty")
    }).pipe(Effect.provide(layer())))

  it.live("times out a hanging server and retries", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "hang" }, { kind: "text", content: "after the hang" })
      const llm = yield* Llm
      const result = yield* llm.generateText({ purpose: "slow", model: model(), prompt: "p" })
      expect(result.text).toBe("after the hang")
      const rows = yield* ledger
      expect(rows[0]!.error).toContain("no reply within")
    }).pipe(Effect.provide(layer({ timeoutSeconds: 2 })))) // long enough for the real reply on a busy machine

  it.live("connection refused is a retryable network error", () =>
    Effect.gen(function* () {
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "down", model: "openai-compatible:m@http://127.0.0.1:9/v1", prompt: "p" }))
      expect(error.reason).toBe("network")
      expect(error.retryable).toBe(true)
      expect((yield* ledger).length).toBe(2)
    }).pipe(Effect.provide(layer({ retries: 1 }))))

  it.live("serves a repeated prompt from the response cache when enabled", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: "cached answer" })
      const llm = yield* Llm
      const first = yield* llm.generateText({ purpose: "c", model: model(), prompt: "same prompt" })
      const second = yield* llm.generateText({ purpose: "c", model: model(), prompt: "same prompt" })
      expect(second.text).toBe(first.text)
      expect(second.cached).toBe(true)
      const rows = yield* ledger
      expect(rows.map((r) => r.cached)).toEqual([0, 1])
    }).pipe(Effect.provide(layer({ cache: true }))))
})

describe("Llm over HTTP through @ai-sdk/openai (the Responses API)", () => {
  const key = "sk-proj-settingsEnvKey0123456789"
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer({ apiKey: key })
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const layer = (env: Record<string, string>) =>
    Llm.layer(settings({ env, prices: { "openai:priced-model": { inputPerMillion: 1, outputPerMillion: 2 } } })).pipe(Layer.provideMerge(storeLayer()))

  it.live("calls OPENAI_BASE_URL from the settings' env with OPENAI_API_KEY, strict structured output, and OpenAI's usage as tokens and cost", () =>
    Effect.gen(function* () {
      server.enqueue({ kind: "text", content: JSON.stringify({ answer: "42", confidence: 0.9 }) })
      const llm = yield* Llm
      const result = yield* llm.generateObject({ purpose: "json", model: "openai:priced-model", prompt: "six times seven?", schema: Answer, schemaName: "answer" })
      expect(result.value).toEqual({ answer: "42", confidence: 0.9 })
      const request = server.requests[0]!
      expect(request.path).toBe("/v1/responses")
      expect(request.headers.authorization).toBe(`Bearer ${key}`)
      expect(request.body.text.format).toMatchObject({ type: "json_schema", name: "answer", strict: true })
      expect(result.inputTokens).toBeGreaterThan(0)
      expect(result.outputTokens).toBe(Math.ceil(JSON.stringify({ answer: "42", confidence: 0.9 }).length / 4))
      expect(result.costUsd).toBeCloseTo((result.inputTokens! * 1 + result.outputTokens! * 2) / 1e6, 12)
    }).pipe(Effect.provide(layer({ OPENAI_API_KEY: key, OPENAI_BASE_URL: server.baseURL }))))

  it.live("a refused key is a one-line, non-retryable HTTP error that does not carry the key", () =>
    Effect.gen(function* () {
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "auth", model: "openai:priced-model", prompt: "p" }))
      expect(error).toMatchObject({ reason: "http", retryable: false })
      expect(error.message).toMatch(/^openai:priced-model: HTTP 401: Incorrect API key provided/)
      expect(error.message).not.toContain("\n")
      expect(error.message).not.toContain("sk-proj-wrongKey0123456789")
      expect(server.requests).toHaveLength(1)
    }).pipe(Effect.provide(layer({ OPENAI_API_KEY: "sk-proj-wrongKey0123456789", OPENAI_BASE_URL: server.baseURL }))))
})
