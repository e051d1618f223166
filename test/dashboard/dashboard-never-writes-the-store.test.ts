/**
 * Nothing in the dashboard can modify the store: its handle is opened read-only (and `query_only`), only GET
 * and HEAD are routed, and serving every view over a real socket leaves the database file byte-for-byte and
 * mtime-for-mtime as it was.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { beforeAll, describe, expect, it } from "vitest"
import { openDashboard, openReadOnly } from "../../src/dashboard/openDashboard.ts"
import { type RealStore, realStore } from "./support.ts"

let store: RealStore

beforeAll(async () => {
  store = await realStore([{ outer: true, experiments: 4 }])
})

const fingerprint = (file: string) => ({ sha256: createHash("sha256").update(fs.readFileSync(file)).digest("hex"), mtimeMs: fs.statSync(file).mtimeMs, size: fs.statSync(file).size })

describe("the dashboard and the store", () => {
  it("opens a handle that refuses every write", () => {
    const db = openReadOnly(store.file)
    try {
      expect(db.readonly).toBe(true)
      expect(db.pragma("query_only", { simple: true })).toBe(1)
      expect(() => db.prepare("INSERT INTO events (run_id, kind, message, created_at) VALUES (?, 'x', 'x', 'x')").run(store.runIds[0])).toThrow(/readonly|read-only/i)
      expect(() => db.exec("CREATE TABLE intruder (x)")).toThrow(/readonly|read-only/i)
      expect(() => db.pragma("query_only = OFF")).not.toThrow()
      // even with query_only switched off, the connection itself is read-only
      expect(() => db.prepare("UPDATE runs SET status = 'failed'").run()).toThrow(/readonly/i)
    } finally {
      db.close()
    }
  })

  it("leaves the database file untouched while serving every view, and answers writes with 405", async () => {
    const before = fingerprint(store.file)
    const runId = store.runIds[0]!
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const dashboard = yield* openDashboard({ file: store.file, host: "127.0.0.1", port: 0 })
          const fetchText = (path: string, init?: RequestInit) => Effect.promise(() => fetch(`${dashboard.url}${path.slice(1)}`, init).then(async (r) => ({ status: r.status, text: await r.text() })))
          const experiments = JSON.parse((yield* fetchText(`/api/runs/${runId}/experiments`)).text)
          const outer = JSON.parse((yield* fetchText(`/api/runs/${runId}/outer`)).text)
          const paths = [
            "/",
            "/app.js",
            "/vendor/chart.umd.min.js",
            "/api/store",
            "/api/version",
            "/api/runs",
            `/api/runs/${runId}`,
            `/api/runs/${runId}/llm`,
            `/api/experiments/${experiments.rows[0].id}`,
            `/api/stages/${outer.stages[0].stageId}/proposals/1`,
            `/api/compare?runs=${runId}`,
          ]
          for (const path of paths) expect((yield* fetchText(path)).status, path).toBe(200)
          for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
            for (const path of ["/api/runs", `/api/runs/${runId}`, `/api/experiments/${experiments.rows[0].id}`, "/"]) {
              const response = yield* fetchText(path, { method, body: method === "DELETE" ? undefined : JSON.stringify({ status: "failed" }), headers: { "content-type": "application/json" } })
              expect(response.status, `${method} ${path}`).toBe(405)
              expect(response.text).toMatch(/read-only/)
            }
          }
          // the live feed opens and sends the current version
          const controller = new AbortController()
          const feed = yield* Effect.promise(() => fetch(`${dashboard.url}api/changes`, { signal: controller.signal }))
          const reader = feed.body!.getReader()
          const first = new TextDecoder().decode((yield* Effect.promise(() => reader.read())).value)
          expect(first).toMatch(/event: version/)
          controller.abort()
        }),
      ),
    )
    expect(fingerprint(store.file)).toEqual(before)
    const rows = (await import("better-sqlite3")).default(store.file, { readonly: true })
    try {
      expect((rows.prepare("SELECT status FROM runs WHERE id = ?").get(runId) as { status: string }).status).toBe("completed")
    } finally {
      rows.close()
    }
  })
})
