/**
 * A real HTTP server speaking the OpenAI chat-completions API, for tests of the provider path. Replies are
 * scripted: each request takes the next reply from the queue (or the fallback). Requests are recorded.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type ScriptedReply =
  | { readonly kind: "text"; readonly content: string; readonly delayMs?: number }
  | { readonly kind: "status"; readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  | { readonly kind: "raw"; readonly body: string }
  | { readonly kind: "hang" }
  | { readonly kind: "reply"; readonly respond: (request: RecordedRequest) => string }

export interface RecordedRequest {
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
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

const completion = (model: string, content: string) =>
  JSON.stringify({
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: Math.ceil(content.length / 4) + 10, completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
  })

export const startOpenAiServer = async (): Promise<OpenAiServer> => {
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
      const recorded = { path: req.url ?? "", headers: req.headers, body }
      requests.push(recorded)
      const reply = queue.shift() ?? fallback
      const model = typeof body?.model === "string" ? body.model : "test-model"
      if (!reply) {
        res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: "no scripted reply left", type: "server_error" } }))
        return
      }
      switch (reply.kind) {
        case "text":
          setTimeout(() => {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(completion(model, reply.content))
          }, reply.delayMs ?? 0)
          return
        case "reply":
          res.writeHead(200, { "content-type": "application/json" })
          res.end(completion(model, reply.respond(recorded)))
          return
        case "status":
          res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
          res.end(reply.body ?? JSON.stringify({ error: { message: `scripted ${reply.status}`, type: "server_error" } }))
          return
        case "raw":
          res.writeHead(200, { "content-type": "application/json" })
          res.end(reply.body)
          return
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
