/**
 * Live updates: while another connection writes to the store, the dashboard's change token moves, its
 * Server-Sent Events feed announces the change, and the next read shows the new rows (the per-run cache is
 * keyed by the change token, so it never serves stale data after a write).
 */
import Database from "better-sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { get, getJson, type RealStore, realStore, type TestDashboard, testDashboard } from "./support.ts"

let store: RealStore
let dashboard: TestDashboard
let writer: Database.Database

beforeAll(async () => {
  store = await realStore([{ experiments: 3 }])
  dashboard = testDashboard(store.file, { pollMs: 25 })
  writer = new Database(store.file)
  writer.pragma("busy_timeout = 5000")
})

afterAll(() => {
  dashboard?.close()
  writer?.close()
})

const appendEvent = (message: string) =>
  writer.prepare("INSERT INTO events (run_id, stage_id, kind, message, created_at) VALUES (?, NULL, 'test-note', ?, ?)").run(store.runIds[0], message, new Date().toISOString())

/** Reads Server-Sent Events from a streaming response until `done` says stop. */
const readEvents = async (response: Response, done: (events: Array<{ event: string; data: any }>) => boolean, timeoutMs = 60_000) => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const events: Array<{ event: string; data: any }> = []
  let buffer = ""
  const deadline = Date.now() + timeoutMs
  while (!done(events)) {
    if (Date.now() > deadline) throw new Error(`no matching events within ${timeoutMs} ms: ${JSON.stringify(events)}`)
    const { value, done: ended } = await reader.read()
    if (ended) break
    buffer += decoder.decode(value, { stream: true })
    let cut: number
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event && data) events.push({ event, data: JSON.parse(data) })
    }
  }
  await reader.cancel()
  return events
}

describe("live updates", () => {
  it("moves the change token when a writer commits, and not otherwise", async () => {
    const first = (await getJson(dashboard, "/api/version")).version
    expect((await getJson(dashboard, "/api/version")).version).toBe(first)
    appendEvent("a writer appended this")
    const second = (await getJson(dashboard, "/api/version")).version
    expect(second).not.toBe(first)
  })

  it("announces each change on the event stream and serves the new rows on the next read", async () => {
    const before = await getJson(dashboard, `/api/runs/${store.runIds[0]}`)
    const response = await get(dashboard, "/api/changes")
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/)
    let expected: string | undefined
    const events = await readEvents(response, (seen) => {
      if (expected === undefined && seen.length > 0) {
        appendEvent("the second note from the writer")
        expected = String(dashboard.db.pragma("data_version", { simple: true }))
      }
      return seen.some((e) => e.event === "change" && e.data.version === expected)
    })
    expect(events[0]!.event).toBe("version")
    expect(expected).not.toBe(events[0]!.data.version)
    const after = await getJson(dashboard, `/api/runs/${store.runIds[0]}`)
    expect(after.events.length).toBe(before.events.length + 1)
    expect(after.events.at(-1).message).toBe("the second note from the writer")
  })

  it("shows a run's status change made by the writer in the runs list", async () => {
    const runId = store.runIds[0]!
    expect((await getJson(dashboard, "/api/runs")).runs[0]).toMatchObject({ id: runId, status: "completed", live: false })
    writer.prepare("UPDATE runs SET status = 'running', ended_at = NULL, lock_owner = 'test:1', lock_heartbeat = ? WHERE id = ?").run(Date.now(), runId)
    expect((await getJson(dashboard, "/api/runs")).runs[0]).toMatchObject({ id: runId, status: "running", live: true, endedAt: null })
  })
})
