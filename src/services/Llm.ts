/**
 * Model calls for every stage, over the AI SDK. Model strings from the config (`openai:<id>`,
 * `openai-compatible:<id>@<baseURL>`) resolve to providers; keys come from the environment only.
 *
 * Contract: the SDK never retries (`maxRetries: 0`); this service retries retryable failures and timeouts
 * with bounded exponential backoff, then fails with LlmError. Every attempt, failed or not, is written to
 * the llm_calls ledger with tokens, cost (null when the price is unknown) and latency, with secret values
 * redacted. Interrupting the calling fiber aborts the HTTP request. `offline` is never callable here.
 * A reply longer than `maxReplyBytes` (default 256 KiB) is refused as `malformed` and never stored whole:
 * its ledger row says so and keeps only a bounded prefix, and the error carries only that prefix.
 * Structured outputs send the strict-mode JSON Schema of structuredOutput.ts to every provider and decode
 * replies through its codec; the prompt hash covers the schema as sent.
 */
import { createOpenAI } from "@ai-sdk/openai"
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import { APICallError, generateText, jsonSchema, type LanguageModel, NoObjectGeneratedError, Output } from "ai"
import { Context, Effect, Exit, Layer, Schedule, Schema } from "effect"
import { parseModelSpec } from "../config.ts"
import { LlmError } from "../domain/errors.ts"
import { sha256 } from "../common/hash.ts"
import { fullEnvironment, makeRedactor } from "../common/secrets.ts"
import { Store } from "./Store.ts"
import { failpoint } from "./failpoints.ts"
import { type StructuredOutput, structuredOutputOf } from "./structuredOutput.ts"

export interface LlmSettings {
  readonly timeoutSeconds: number
  readonly retries: number
  readonly cache: boolean
  readonly temperature: number | undefined
  readonly structuredOutputs: boolean
  readonly prices: Readonly<Record<string, { inputPerMillion: number; outputPerMillion: number }>>
  /** Where keys (and `OPENAI_BASE_URL`) are read from; defaults to the process environment with its sealed secrets. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** First backoff delay; doubles per retry (tests shorten it). */
  readonly backoffMillis?: number
  /** Longest reply accepted, in UTF-8 bytes (default `defaultMaxReplyBytes`). */
  readonly maxReplyBytes?: number
}

export const defaultMaxReplyBytes = 256 * 1024

/** How much of a refused, over-long reply the ledger keeps. */
export const refusedReplyPrefixBytes = 4096

/** The first `bytes` UTF-8 bytes of `text` (a character cut in two is dropped). */
export const utf8Prefix = (text: string, bytes: number): string =>
  Buffer.from(text.slice(0, bytes), "utf8").subarray(0, bytes).toString("utf8").replace(/\uFFFD$/, "")

export interface LlmRequest {
  /** What the call is for, e.g. `gepa.reflection` or `code-search.propose`. */
  readonly purpose: string
  readonly model: string
  readonly system?: string
  readonly prompt: string
  /** Hash of the prompt template the prompt was rendered from (see the Prompts service). */
  readonly templateHash?: string
  readonly runId?: string | null
  readonly stageId?: number | null
  /** Caps the reply's length (a reply cut short fails as malformed or empty). */
  readonly maxOutputTokens?: number
}

export interface LlmResult<A> {
  readonly value: A
  readonly text: string
  readonly callId: number
  readonly cached: boolean
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  readonly costUsd: number | null
}

export interface LlmShape {
  readonly generateText: (request: LlmRequest) => Effect.Effect<LlmResult<string>, LlmError>
  readonly generateObject: <A>(
    request: LlmRequest & { readonly schema: Schema.Codec<A, any>; readonly schemaName?: string },
  ) => Effect.Effect<LlmResult<A>, LlmError>
}

/** The price of a model string: exact match first, then the string without an `@baseURL` suffix. */
export const priceOf = (prices: LlmSettings["prices"], model: string) => prices[model] ?? prices[model.replace(/@.*$/, "")]

export const costOf = (prices: LlmSettings["prices"], model: string, inputTokens: number | null, outputTokens: number | null): number | null => {
  const price = priceOf(prices, model)
  if (!price || inputTokens === null || outputTokens === null) return null
  return (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1e6
}

export type ModelResolver = (model: string) => LanguageModel

/** Where `openai:` models are called: `OPENAI_BASE_URL` (a proxy, gateway or Azure-style endpoint) or OpenAI. */
export const openaiBaseURL = (env: Readonly<Record<string, string | undefined>>) => env.OPENAI_BASE_URL?.trim() || "https://api.openai.com/v1"

/**
 * Resolves config model strings to AI SDK models, reading keys and `OPENAI_BASE_URL` from `env` at resolution
 * time. `openai:` models use the Responses API; `openai-compatible:` models use chat completions.
 */
export const providerResolver = (settings: Pick<LlmSettings, "env" | "structuredOutputs">): ModelResolver => {
  const cache = new Map<string, LanguageModel>()
  return (model) => {
    const cached = cache.get(model)
    if (cached) return cached
    const env = settings.env ?? fullEnvironment()
    const spec = parseModelSpec(model)
    if (!spec || spec.provider === "offline") throw new Error(`model ${JSON.stringify(model)} is not callable`)
    const resolved =
      spec.provider === "openai"
        ? createOpenAI({ apiKey: env.OPENAI_API_KEY ?? "", baseURL: openaiBaseURL(env) })(spec.modelId)
        : createOpenAICompatible({
            name: "openai-compatible",
            baseURL: spec.baseURL,
            ...(env.TWOLOOP_API_KEY ? { apiKey: env.TWOLOOP_API_KEY } : {}),
            includeUsage: true,
            supportsStructuredOutputs: settings.structuredOutputs,
          })(spec.modelId)
    cache.set(model, resolved)
    return resolved
  }
}

const describeCause = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause
  const code = (cause as { code?: string } | undefined)?.code
  return code ? `${(error as Error).message} (${code})` : (error as Error).message
}

const classify = (model: string, error: unknown): LlmError => {
  if (NoObjectGeneratedError.isInstance(error) && (error.text ?? "").trim() === "")
    return new LlmError({ message: `${model} returned an empty reply`, model, reason: "empty", retryable: false, raw: "" })
  if (NoObjectGeneratedError.isInstance(error))
    return new LlmError({ message: `${model} returned output that does not match the expected schema`, model, reason: "malformed", retryable: false, raw: error.text ?? "" })
  if (APICallError.isInstance(error)) {
    const status = error.statusCode
    const network = status === undefined
    return new LlmError({
      message: network ? `${model}: request failed: ${describeCause(error)}` : `${model}: HTTP ${status}: ${error.message}`,
      model,
      reason: network ? "network" : "http",
      retryable: error.isRetryable || network,
    })
  }
  const text = error instanceof Error ? describeCause(error) : String(error)
  const network = /fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|socket|terminated/i.test(text)
  return new LlmError({ message: `${model}: ${text}`, model, reason: network ? "network" : "http", retryable: network })
}

const schemaForSdk = <A>(output: StructuredOutput<A>) =>
  jsonSchema<A>(output.jsonSchema as Parameters<typeof jsonSchema>[0], {
    validate: (value) => {
      const decoded = output.decode(value)
      return decoded.ok ? { success: true, value: decoded.value } : { success: false, error: new Error(decoded.reason) }
    },
  })

export const makeLlm = (settings: LlmSettings, resolve: ModelResolver) =>
  Effect.gen(function* () {
    const store = yield* Store
    const redact = makeRedactor(settings.env ?? fullEnvironment())
    const backoff = settings.backoffMillis ?? 1000
    const maxReplyBytes = settings.maxReplyBytes ?? defaultMaxReplyBytes
    /** The refusal of a reply over the size cap, or undefined when it fits. */
    const oversize = (model: string, text: string | undefined) => {
      if (text === undefined || text.length <= maxReplyBytes / 4) return undefined
      const bytes = Buffer.byteLength(text, "utf8")
      if (bytes <= maxReplyBytes) return undefined
      const kept = utf8Prefix(text, Math.min(refusedReplyPrefixBytes, maxReplyBytes))
      const message = `${model} returned a reply of ${bytes} bytes, over llm.maxReplyBytes (${maxReplyBytes}); refused, only its first ${Buffer.byteLength(kept, "utf8")} bytes are kept`
      return { prefix: redact(kept), message }
    }
    /** No secret value leaves the process: prompts quote logs, replies and files an experiment may have written. */
    const outbound = (request: LlmRequest): LlmRequest => ({ ...request, prompt: redact(request.prompt), ...(request.system !== undefined ? { system: redact(request.system) } : {}) })

    const call = <A>(
      request: LlmRequest,
      structured: { schema: Schema.Codec<A, any>; name?: string } | undefined,
      span: string,
    ): Effect.Effect<LlmResult<A>, LlmError> =>
      Effect.gen(function* () {
        const { model } = request
        const spec = parseModelSpec(model)
        if (!spec || spec.provider === "offline")
          return yield* new LlmError({ message: `model ${JSON.stringify(model)} cannot be called (offline runs use the built-in proposers)`, model, reason: "offline", retryable: false })
        const output = structured ? structuredOutputOf(structured.schema) : undefined
        const outputSchema = output ? schemaForSdk(output) : undefined
        const promptText = request.system ? `[system]\n${request.system}\n\n[user]\n${request.prompt}` : request.prompt
        const promptHash = sha256(
          JSON.stringify({
            system: request.system ?? null,
            prompt: request.prompt,
            schema: output ? output.jsonSchema : null,
            ...(request.maxOutputTokens !== undefined ? { maxOutputTokens: request.maxOutputTokens } : {}),
          }),
        )
        const ledger = {
          runId: request.runId ?? null,
          stageId: request.stageId ?? null,
          purpose: request.purpose,
          model,
          promptHash,
          templateHash: request.templateHash ?? null,
          promptText: redact(promptText),
        }

        if (settings.cache) {
          const hit = yield* store.llmCalls.cachedResponse(model, promptHash)
          if (hit !== undefined) {
            const value = output ? yield* decodeCached(output, hit, model) : (hit as A)
            const callId = yield* store.llmCalls.insertLlmCall({ ...ledger, responseText: hit, inputTokens: 0, outputTokens: 0, costUsd: 0, latencyMs: 0, cached: true, attempt: 1, error: null })
            return { value, text: hit, callId, cached: true, inputTokens: 0, outputTokens: 0, costUsd: 0 }
          }
        }

        let attempt = 0
        const once = Effect.gen(function* () {
          attempt += 1
          const started = performance.now()
          const exit = yield* Effect.tryPromise({
            try: (signal) =>
              generateText({
                model: resolve(model),
                ...(request.system ? { system: request.system } : {}),
                prompt: request.prompt,
                maxRetries: 0,
                abortSignal: signal,
                ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
                ...(request.maxOutputTokens !== undefined ? { maxOutputTokens: request.maxOutputTokens } : {}),
                ...(outputSchema ? { output: Output.object({ schema: outputSchema, ...(structured?.name ? { name: structured.name } : {}) }) } : {}),
              }),
            catch: (error) => classify(model, error),
          }).pipe(
            Effect.timeoutOrElse({
              duration: `${settings.timeoutSeconds} seconds`,
              orElse: () =>
                Effect.fail(new LlmError({ message: `${model}: no reply within ${settings.timeoutSeconds} s`, model, reason: "timeout", retryable: true })),
            }),
            Effect.exit,
          )
          const latencyMs = performance.now() - started
          if (Exit.isFailure(exit)) {
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
            const error = failure && "error" in failure ? (failure.error as LlmError) : undefined
            if (!error) return yield* Effect.failCause(exit.cause)
            const tooLong = oversize(model, error.raw)
            if (tooLong !== undefined) {
              yield* store.llmCalls.insertLlmCall({ ...ledger, responseText: tooLong.prefix, inputTokens: null, outputTokens: null, costUsd: null, latencyMs, cached: false, attempt, error: tooLong.message })
              return yield* new LlmError({ message: tooLong.message, model, reason: "malformed", retryable: false, raw: tooLong.prefix })
            }
            yield* store.llmCalls.insertLlmCall({
              ...ledger,
              responseText: error.raw === undefined ? null : redact(error.raw),
              inputTokens: null,
              outputTokens: null,
              costUsd: null,
              latencyMs,
              cached: false,
              attempt,
              error: redact(error.message),
            })
            return yield* new LlmError({ message: redact(error.message), model: error.model, reason: error.reason, retryable: error.retryable, ...(error.raw === undefined ? {} : { raw: redact(error.raw) }) })
          }
          const result = exit.value
          yield* failpoint("llm-replied")
          const inputTokens = result.usage.inputTokens ?? null
          const outputTokens = result.usage.outputTokens ?? null
          const costUsd = costOf(settings.prices, model, inputTokens, outputTokens)
          const text = result.text
          const tooLong = oversize(model, text)
          if (tooLong !== undefined) {
            yield* store.llmCalls.insertLlmCall({ ...ledger, responseText: tooLong.prefix, inputTokens, outputTokens, costUsd, latencyMs, cached: false, attempt, error: tooLong.message })
            return yield* new LlmError({ message: tooLong.message, model, reason: "malformed", retryable: false, raw: tooLong.prefix })
          }
          const empty = !structured && text.trim().length === 0
          const callId = yield* store.llmCalls.insertLlmCall({
            ...ledger,
            responseText: redact(text),
            inputTokens,
            outputTokens,
            costUsd,
            latencyMs,
            cached: false,
            attempt,
            error: empty ? "empty reply" : null,
          })
          if (empty) return yield* new LlmError({ message: `${model} returned an empty reply`, model, reason: "empty", retryable: false, raw: "" })
          // A reply never carries a secret further: what callers get (and may store or put in a prompt) is redacted.
          const value = (structured ? (JSON.parse(redact(JSON.stringify(result.output))) as unknown) : redact(text)) as A
          return { value, text: redact(text), callId, cached: false, inputTokens, outputTokens, costUsd }
        })

        return yield* once.pipe(
          Effect.retry({
            schedule: Schedule.exponential(`${backoff} millis`).pipe(Schedule.jittered),
            times: settings.retries,
            while: (error: LlmError) => error.retryable,
          }),
        )
      }).pipe(Effect.withSpan(span))

    const decodeCached = <A>(output: StructuredOutput<A>, text: string, model: string) => {
      const malformed = new LlmError({ message: `${model}: cached response no longer matches the schema`, model, reason: "malformed", retryable: false, raw: text })
      return Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => malformed }).pipe(
        Effect.flatMap((reply) => {
          const decoded = output.decode(reply)
          return decoded.ok ? Effect.succeed(decoded.value) : Effect.fail(malformed)
        }),
      )
    }

    return Llm.of({
      generateText: (request) => call<string>(outbound(request), undefined, "Llm.generateText"),
      generateObject: (request) => call(outbound(request), { schema: request.schema, ...(request.schemaName ? { name: request.schemaName } : {}) }, "Llm.generateObject"),
    })
  })

export class Llm extends Context.Service<Llm, LlmShape>()("twoloop/Llm") {
  /** Real providers resolved from model strings. Requires Store (the ledger). */
  static readonly layer = (settings: LlmSettings) => Layer.effect(Llm, makeLlm(settings, providerResolver(settings)))
  /** Any resolver, e.g. one returning `MockLanguageModelV3` in unit tests. */
  static readonly layerWith = (settings: LlmSettings, resolve: ModelResolver) => Layer.effect(Llm, makeLlm(settings, resolve))
}
