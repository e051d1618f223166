/**
 * The inner stage against a misbehaving provider (a real local HTTP server): rate limits, server errors,
 * a hung connection, malformed and truncated JSON, an empty reply and a reply that edits the readonly
 * harness. Each failure is recorded (a failed proposal row, a rejected edit, the ledger) and the search
 * goes on; three failed proposals in a row stop the stage with one clear line; a provider that refuses
 * connections does the same.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type OpenAiServer, startOpenAiServer } from "../../support/openaiServer.ts"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

const target = { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 }

const edit = (description: string, file: string, search: string, replacement: string) =>
  JSON.stringify({ direction: "d", rationale: `because ${description}`, description, changes: [{ path: file, kind: "replace", search, replace: replacement }] })

const rowsOf = (store: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT seq, description, status, reason FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
  const calls = db.prepare("SELECT error FROM llm_calls ORDER BY id").all() as Array<{ error: string | null }>
  db.close()
  return { rows, calls }
}

describe("a flaky provider", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
  })
  afterAll(() => server.close())

  it.live("records every failure and keeps searching", () =>
    Effect.gen(function* () {
      server.reset()
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        model: `openai-compatible:flaky@${server.baseURL}`,
        // short, for the hung connections below; long enough for the replies that do come on a busy machine
        llm: { retries: 1, timeoutSeconds: 3 },
        target,
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 9 }, pipelining: false }],
      })
      server.enqueue(
        // 1: rate limited, then answered on the retry
        { kind: "status", status: 429, headers: { "retry-after": "0" } },
        { kind: "text", content: edit("adam", "train.mjs", 'const OPTIMIZER = "sgd"', 'const OPTIMIZER = "adam"') },
        // 2: two server errors exhaust the retries
        { kind: "status", status: 500 },
        { kind: "status", status: 500 },
        // 3: malformed, then a truncated fence on the corrective retry
        { kind: "text", content: "Sure! I would change the optimizer." },
        { kind: "text", content: '```json\n{"direction": "norm", "rationale": "' },
        // 4: a good edit resets the failure count
        { kind: "text", content: edit("norm", "train.mjs", "const USE_NORM = false", "const USE_NORM = true") },
        // 5: the connection hangs past the timeout, twice
        { kind: "hang" },
        { kind: "hang" },
        // 6: an empty reply
        { kind: "text", content: "" },
        { kind: "text", content: "" },
        // 7: an edit of the readonly harness
        { kind: "text", content: edit("cheat", "prepare.mjs", "export const evaluate", "export const evaluate_") },
      )
      const summary = yield* runPipeline(config).effect
      expect(summary.status).toBe("completed")
      const { rows, calls } = rowsOf(config.store)
      expect(rows.slice(2).map((r) => [r.description, r.status])).toEqual([
        ["adam", "keep"],
        ["failed proposal", "rejected"],
        ["failed proposal", "rejected"],
        ["norm", "keep"],
        ["failed proposal", "rejected"],
        ["failed proposal", "rejected"],
        ["cheat", "rejected"],
      ])
      const reasons = rows.slice(2).map((r) => String(r.reason))
      expect(reasons[1]).toMatch(/^proposal failed: .*500/)
      expect(reasons[2]).toMatch(/^proposal failed: .*(malformed|JSON|parse)/i)
      expect(reasons[4]).toMatch(/^proposal failed: .*no reply within 3 s/)
      expect(reasons[5]).toMatch(/^proposal failed: .*empty/i)
      expect(reasons[6]).toMatch(/prepare\.mjs/)
      // every attempt is in the ledger, failures with their error
      expect(calls.length).toBe(server.requests.length)
      expect(calls.filter((c) => c.error !== null).length).toBeGreaterThanOrEqual(7)
    }))

  it.live("stops the stage with one line after three failed proposals in a row", () =>
    Effect.gen(function* () {
      server.reset()
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        model: `openai-compatible:flaky@${server.baseURL}`,
        llm: { retries: 0, timeoutSeconds: 30 },
        target,
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 10 }, pipelining: false }],
      })
      server.setFallback({ kind: "raw", body: "{ this is not a completion" })
      const exit = yield* Effect.exit(runPipeline(config).effect)
      expect(Exit.isFailure(exit)).toBe(true)
      const message = String(Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "")
      expect(message).toMatch(/inner: 3 proposals in a row failed; last: /)
      const { rows } = rowsOf(config.store)
      expect(rows.map((r) => r.status)).toEqual(["baseline", "baseline", "rejected", "rejected", "rejected"].map((s, i) => (i < 2 ? expect.any(String) : s)))
    }))

  it.live("a provider that refuses connections fails proposals, not the process", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.promise(() => startOpenAiServer())
      const baseURL = closed.baseURL
      yield* Effect.promise(() => closed.close())
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        model: `openai-compatible:gone@${baseURL}`,
        llm: { retries: 1, timeoutSeconds: 30 },
        target,
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 10 }, pipelining: false }],
      })
      const exit = yield* Effect.exit(runPipeline(config).effect)
      expect(Exit.isFailure(exit)).toBe(true)
      const { rows } = rowsOf(config.store)
      expect(rows.slice(2).map((r) => [r.status, String(r.reason)])).toEqual(Array.from({ length: 3 }, () => ["rejected", expect.stringMatching(/^proposal failed: .*(ECONNREFUSED|connect|network)/i)]))
    }))
})
