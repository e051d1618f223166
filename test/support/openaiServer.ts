/**
 * A real HTTP server speaking the two OpenAI APIs twoloop's providers use, for tests of the provider path:
 * `POST /v1/responses` (the `openai:` provider) and `POST /v1/chat/completions` (`openai-compatible:`).
 * Like OpenAI, it refuses a strict structured-output request whose schema breaks the strict rules (HTTP 400,
 * `invalid_request_error`, see openaiStrictSchema.ts), refuses a wrong key when it was given one (HTTP 401),
 * honours the output-token cap (a reply past it is cut and marked incomplete) and reports usage in each
 * API's own shape. Replies are scripted: each request takes the next reply from the queue (or the fallback);
 * a `route` reply picks the reply from the request. Every request is recorded, headers included.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { strictSchemaViolations } from "./openaiStrictSchema.ts"

export type ScriptedReply =
  | { readonly kind: "text"; readonly content: string; readonly delayMs?: number }
  | { readonly kind: "status"; readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  | { readonly kind: "raw"; readonly body: string }
  | { readonly kind: "hang" }
  | { readonly kind: "reply"; readonly respond: (request: RecordedRequest) => string }
  | { readonly kind: "route"; readonly choose: (request: RecordedRequest) => ScriptedReply }

export interface RecordedRequest {
  readonly path: string
  /** Which API the path belongs to. */
  readonly api: "responses" | "chat" | "other"
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
}

export interface StructuredFormat {
  readonly name: string
  readonly strict: boolean
  readonly schema: unknown
}

export interface OpenAiServerOptions {
  /** When set, a request without `Authorization: Bearer <apiKey>` is refused with OpenAI's 401. */
  readonly apiKey?: string
}

export interface OpenAiServer {
  readonly baseURL: string
  readonly requests: Array<RecordedRequest>
  readonly enqueue: (...replies: Array<ScriptedReply>) => void
  readonly setFallback: (reply: ScriptedReply | undefined) => void
  /** Drops queued replies, the fallback and the recorded requests. */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("\n")
      : ""

/** The messages of a request, whichever API it used, as role and text. */
export const messagesOf = (request: RecordedRequest): Array<{ role: string; text: string }> => {
  const messages = request.api === "responses" ? (typeof request.body?.input === "string" ? [{ role: "user", content: request.body.input }] : request.body?.input) : request.body?.messages
  return Array.isArray(messages) ? messages.map((message) => ({ role: String(message.role), text: textOf(message.content) })) : []
}

/** The text of the last message of a request (the user prompt). */
export const promptOf = (request: RecordedRequest) => messagesOf(request).at(-1)?.text ?? ""

/** The structured-output format a request asks for, whichever API it used; undefined for plain text. */
export const structuredFormatOf = (request: RecordedRequest): StructuredFormat | undefined => {
  const format = request.api === "responses" ? request.body?.text?.format : request.body?.response_format
  if (format?.type !== "json_schema") return undefined
  const spec = request.api === "responses" ? format : format.json_schema
  return { name: String(spec?.name ?? ""), strict: spec?.strict === true, schema: spec?.schema }
}

const estimateTokens = (text: string) => Math.ceil(text.length / 4)

const apiError = (status: number, error: { message: string; type: string; param: string | null; code: string | null }) => ({ status, body: JSON.stringify({ error }) })

/** Why OpenAI would refuse this request before generating anything, or undefined. */
const refusal = (request: RecordedRequest, apiKey: string | undefined) => {
  const sent = String(request.headers.authorization ?? "")
  if (apiKey !== undefined && sent !== `Bearer ${apiKey}`) {
    const key = sent.replace(/^Bearer\s*/, "")
    const masked = key.length > 8 ? `${key.slice(0, 3)}${"*".repeat(key.length - 7)}${key.slice(-4)}` : "***"
    return apiError(401, { message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: "invalid_request_error", param: null, code: "invalid_api_key" })
  }
  const format = structuredFormatOf(request)
  if (format?.strict) {
    const [violation] = strictSchemaViolations(format.schema)
    if (violation !== undefined)
      return request.api === "responses"
        ? apiError(400, { message: `Invalid schema for response_format '${format.name}': ${violation}`, type: "invalid_request_error", param: "text.format.schema", code: "invalid_json_schema" })
        : apiError(400, { message: `Invalid schema for response_format '${format.name}': ${violation}`, type: "invalid_request_error", param: "response_format", code: null })
  }
  return undefined
}

/** The reply as the request's API returns it: cut at the output-token cap, with usage in that API's shape. */
const completion = (request: RecordedRequest, content: string) => {
  const model = typeof request.body?.model === "string" ? request.body.model : "test-model"
  const cap = request.api === "responses" ? request.body?.max_output_tokens : (request.body?.max_completion_tokens ?? request.body?.max_tokens)
  const cut = typeof cap === "number" && estimateTokens(content) > cap
  const text = cut ? content.slice(0, cap * 4) : content
  const inputTokens = estimateTokens(messagesOf(request).map((m) => m.text).join("\n")) + 10
  const outputTokens = estimateTokens(text)
  const id = Math.random().toString(36).slice(2)
  const created = Math.floor(Date.now() / 1000)
  if (request.api === "responses")
    return JSON.stringify({
      id: `resp_${id}`,
      object: "response",
      created_at: created,
      status: cut ? "incomplete" : "completed",
      error: null,
      incomplete_details: cut ? { reason: "max_output_tokens" } : null,
      model,
      output: [{ type: "message", id: `msg_${id}`, status: cut ? "incomplete" : "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] }],
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens,
      },
    })
  return JSON.stringify({
    id: `chatcmpl-${id}`,
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: cut ? "length" : "stop" }],
    usage: {
      prompt_tokens: inputTokens,
      completion_tokens: outputTokens,
      total_tokens: inputTokens + outputTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  })
}

const apiOf = (url: string): RecordedRequest["api"] =>
  /\/responses(\?|$)/.test(url) ? "responses" : /\/chat\/completions(\?|$)/.test(url) ? "chat" : "other"

export const startOpenAiServer = async (options: OpenAiServerOptions = {}): Promise<OpenAiServer> => {
  const queue: Array<ScriptedReply> = []
  let fallback: ScriptedReply | undefined
  const requests: Array<RecordedRequest> = []
  const sockets = new Set<import("node:net").Socket>()
  const server = http.createServer((req, res) => {
    let data = ""
    req.on("data", (chunk) => (data += chunk))
    req.on("end", () => {
      let body: any = null
      try {
        body = JSON.parse(data)
      } catch {
        body = data
      }
      const path = req.url ?? ""
      const recorded: RecordedRequest = { path, api: apiOf(path), headers: req.headers, body }
      requests.push(recorded)
      const send = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers })
        res.end(text)
      }
      const refused = refusal(recorded, options.apiKey)
      if (refused) return send(refused.status, refused.body)
      let reply = queue.shift() ?? fallback
      while (reply?.kind === "route") reply = reply.choose(recorded)
      if (!reply) return send(500, JSON.stringify({ error: { message: "no scripted reply left", type: "server_error", param: null, code: null } }))
      switch (reply.kind) {
        case "text":
          setTimeout(() => send(200, completion(recorded, reply.content)), reply.delayMs ?? 0)
          return
        case "reply":
          return send(200, completion(recorded, reply.respond(recorded)))
        case "status":
          return send(reply.status, reply.body ?? JSON.stringify({ error: { message: `scripted ${reply.status}`, type: "server_error", param: null, code: null } }), reply.headers)
        case "raw":
          return send(200, reply.body)
        case "hang":
          return
      }
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    setFallback: (reply) => (fallback = reply),
    reset: () => {
      queue.length = 0
      requests.length = 0
      fallback = undefined
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
