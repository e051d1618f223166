/**
 * `llm.maxReplyBytes`: a reply over the cap is refused (LlmError `malformed`, not retried), its ledger row
 * says why and keeps only a bounded prefix, and nothing whole reaches the store or the caller, for text and
 * structured calls, over a real HTTP server and a real SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { decodeConfig } from "../../src/config.ts"
import { defaultMaxReplyBytes, Llm, type LlmSettings, refusedReplyPrefixBytes, utf8Prefix } from "../../src/services/Llm.ts"
import { Store } from "../../src/services/Store.ts"
import { type OpenAiServer, startOpenAiServer } from "../support/openaiServer.ts"
import { tempDir } from "../support/tmp.ts"

const settings = (overrides: Partial<LlmSettings> = {}): LlmSettings => ({
  timeoutSeconds: 20,
  retries: 2,
  cache: false,
  temperature: undefined,
  structuredOutputs: true,
  prices: {},
  env: { TWOLOOP_API_KEY: "sk-test-secret-key-0123456789" },
  backoffMillis: 10,
  ...overrides,
})

const Answer = Schema.Struct({ answer: Schema.String })

describe("the reply size cap", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const storeFile = () => path.join(tempDir(), "store.db")
  const model = () => `openai-compatible:capped@${server.baseURL}`
  const rows = Effect.gen(function* () {
    const store = yield* Store
    return yield* store.use((db) => db.prepare("SELECT attempt, error, response_text FROM llm_calls ORDER BY id").all() as Array<{ attempt: number; error: string | null; response_text: string | null }>)
  })

  it("defaults to 256 KiB, configurable as llm.maxReplyBytes", () => {
    expect(defaultMaxReplyBytes).toBe(262_144)
    const base = { target: { dir: "t", editable: ["a"], command: "x", metric: { name: "m", direction: "minimize" }, timeBudgetSeconds: 1 }, stages: [{ kind: "k" }] }
    const decoder = { kinds: () => ["k"], decode: () => ({ ok: true as const, value: {} }) }
    const decoded = decodeConfig(base, "/p/pipeline.config.json", decoder)
    expect(decoded.ok && decoded.config.llm.maxReplyBytes).toBe(262_144)
    const custom = decodeConfig({ ...base, llm: { maxReplyBytes: 1000 } }, "/p/pipeline.config.json", decoder)
    expect(custom.ok && custom.config.llm.maxReplyBytes).toBe(1000)
    const bad = decodeConfig({ ...base, llm: { maxReplyBytes: 0 } }, "/p/pipeline.config.json", decoder)
    expect(bad).toEqual({ ok: false, message: "/p/pipeline.config.json: llm.maxReplyBytes: expected a positive integer, got 0" })
  })

  it.live("refuses an 8 MB text reply once, records why, and keeps only its first 4 KiB", () => {
    const file = storeFile()
    return Effect.gen(function* () {
      server.enqueue({ kind: "text", content: `start sk-test-secret-key-0123456789 ${"x".repeat(8 * 1024 * 1024)}` })
      const llm = yield* Llm
      const error = yield* Effect.flip(llm.generateText({ purpose: "test", model: model(), prompt: "talk a lot" }))
      expect(error.reason).toBe("malformed")
      expect(error.message).toMatch(/returned a reply of \d+ bytes, over llm\.maxReplyBytes \(262144\); refused, only its first 4096 bytes are kept/)
      expect(error.raw!.startsWith("start [redacted] xxx")).toBe(true)
      expect(error.raw!.length).toBeLessThanOrEqual(refusedReplyPrefixBytes)
      expect(server.requests).toHaveLength(1)
      const [row] = yield* rows
      expect(row!.error).toBe(error.message)
      expect(row!.response_text!.startsWith("start [redacted] xxx")).toBe(true)
      expect(Buffer.byteLength(row!.response_text!)).toBeLessThanOrEqual(refusedReplyPrefixBytes)
    }).pipe(
      Effect.provide(Llm.layer(settings()).pipe(Layer.provideMerge(Store.layer(file)))),
      Effect.andThen(Effect.sync(() => expect(fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0)).toBeLessThan(1024 * 1024))),
    )
  })

  it.live("refuses a structured reply over a smaller cap before decoding it, and takes replies at the cap", () =>
    Effect.gen(function* () {
      const llm = yield* Llm
      const long = JSON.stringify({ answer: "y".repeat(3000) })
      server.enqueue({ kind: "text", content: long })
      const error = yield* Effect.flip(llm.generateObject({ purpose: "test", model: model(), prompt: "answer", schema: Answer }))
      expect(error.reason).toBe("malformed")
      expect(error.message).toContain(`a reply of ${long.length} bytes, over llm.maxReplyBytes (2048)`)
      const fits = JSON.stringify({ answer: "z".repeat(2048 - 13) })
      expect(fits.length).toBe(2048)
      server.enqueue({ kind: "text", content: fits })
      const result = yield* llm.generateObject({ purpose: "test", model: model(), prompt: "answer", schema: Answer })
      expect(result.value.answer).toHaveLength(2035)
      const ledger = yield* rows
      expect(ledger.map((row) => [row.error === null, row.response_text!.length])).toEqual([
        [false, 2048],
        [true, 2048],
      ])
    }).pipe(Effect.provide(Llm.layer(settings({ maxReplyBytes: 2048 })).pipe(Layer.provideMerge(Store.layer(storeFile()))))))

  it.live("refuses an over-long reply that does not even parse as the schema, keeping its prefix only", () =>
    Effect.gen(function* () {
      const llm = yield* Llm
      server.enqueue({ kind: "text", content: `not json ${"n".repeat(50_000)}` })
      const error = yield* Effect.flip(llm.generateObject({ purpose: "test", model: model(), prompt: "answer", schema: Answer }))
      expect(error.message).toContain("over llm.maxReplyBytes (10000)")
      expect(error.raw).toHaveLength(4096)
      const [row] = yield* rows
      expect(row!.response_text).toHaveLength(4096)
    }).pipe(Effect.provide(Llm.layer(settings({ maxReplyBytes: 10_000 })).pipe(Layer.provideMerge(Store.layer(storeFile()))))))

  it("cuts a prefix on a character boundary", () => {
    expect(utf8Prefix("ééé", 3)).toBe("é")
    expect(utf8Prefix("ééé", 4)).toBe("éé")
    expect(utf8Prefix("abc", 10)).toBe("abc")
  })
})
