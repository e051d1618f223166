/**
 * What a killed `twoloop run` leaves behind: its experiment processes (found by the pid recorded on the
 * experiment row and the experiment id in their environment, never by name, killed and recorded as an
 * event on resume) and its run lock (a second process is refused while the holder lives and heartbeats,
 * and takes over a lock whose holder is dead or whose heartbeat has expired).
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { isAlive } from "../../src/services/executor/processTree.ts"
import { twoloop } from "../support/cli.ts"
import { makeProject } from "../support/pipeline.ts"

const writeConfig = (root: string, sleepMs: number, experiments = 3) =>
  fs.writeFileSync(
    path.join(root, "pipeline.config.json"),
    JSON.stringify({
      name: "orphans",
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 30, env: { FIXTURE_SLEEP_MS: String(sleepMs) } },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments } }],
    }),
  )

const storeOf = (root: string) => path.join(root, ".twoloop/twoloop.db")

const query = <A>(store: string, sql: string, ...params: Array<unknown>): Array<A> => {
  const db = new Database(store, { readonly: true })
  try {
    return db.prepare(sql).all(...params) as Array<A>
  } finally {
    db.close()
  }
}

/** Alive and not a zombie (a killed orphan waits for init to reap it). */
const alive = isAlive

const until = async (what: string, check: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const runningPid = (store: string) => {
  try {
    return query<{ pid: number }>(store, "SELECT pid FROM experiments WHERE status = 'running' AND pid IS NOT NULL")[0]?.pid
  } catch {
    return undefined // no store yet, or its tables are still being created
  }
}

describe("after a kill -9", () => {
  it("resume kills the experiment process the dead run left behind, records it, and finishes its budget", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, 4000)
    const store = storeOf(root)
    const run = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root })
    await until("a running experiment", () => runningPid(store) !== undefined)
    const orphan = runningPid(store)!
    // Frozen, so it is still there however long the resume takes to start (a stopped process can still be killed).
    process.kill(orphan, "SIGSTOP")
    try {
      run.kill("SIGKILL")
      await run
      expect(alive(orphan), "the experiment outlives the killed orchestrator").toBe(true)

      const runId = query<{ id: string }>(store, "SELECT id FROM runs")[0]!.id
      const resumed = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
      expect(resumed.exitCode, String(resumed.all)).toBe(0)
      expect(String(resumed.stdout)).toMatch(new RegExp(`killed \\d+ orphaned process(es)? of experiment #\\d+ \\(pid [\\d, ]*\\b${orphan}\\b`))
      expect(alive(orphan)).toBe(false)
    } finally {
      if (alive(orphan)) process.kill(orphan, "SIGKILL")
    }
    const events = query<{ message: string }>(store, "SELECT message FROM events WHERE kind = 'orphan-killed'")
    expect(events.map((e) => e.message)).toEqual([expect.stringContaining(`pid ${orphan}`)])
    const rows = query<{ status: string }>(store, "SELECT status FROM experiments ORDER BY seq")
    expect(rows).toHaveLength(3)
    expect(rows.every((r) => r.status !== "running" && r.status !== "planned")).toBe(true)
  })
})

describe("one process per run", () => {
  it("refuses a second process while the first holds the lock, and takes over once the holder is dead", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, 1500)
    const store = storeOf(root)
    const first = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root })
    await until("the run to start", () => runningPid(store) !== undefined)
    const runId = query<{ id: string }>(store, "SELECT id FROM runs")[0]!.id

    const eventsBefore = query<{ id: number; kind: string }>(store, "SELECT id, kind FROM events ORDER BY id")
    const second = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(second.exitCode).not.toBe(0)
    const error = String(second.stderr).trim()
    expect(error.split("\n")).toHaveLength(1)
    expect(error).toMatch(new RegExp(`run ${runId} is being run by [^:]+:${first.pid} \\(last heartbeat \\d+ s ago\\)`))
    // The refused command wrote nothing: no run-resumed event, nothing else either.
    const eventsAfter = query<{ id: number; kind: string }>(store, "SELECT id, kind FROM events ORDER BY id")
    expect(eventsAfter.map((e) => e.kind)).not.toContain("run-resumed")
    expect(eventsAfter.filter((e) => e.kind === "run-resumed")).toEqual([])
    expect(eventsAfter.slice(0, eventsBefore.length)).toEqual(eventsBefore)

    first.kill("SIGKILL")
    await first
    const third = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(third.exitCode, String(third.all)).toBe(0)
    expect(query<{ status: string }>(store, "SELECT status FROM runs")[0]!.status).toBe("completed")
  })

  it("stops a process that lost its lock while it was stopped: it writes nothing more and says so", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, 1500, 6)
    const store = storeOf(root)
    const first = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, timeout: 300_000 })
    let second: ReturnType<typeof twoloop> | undefined
    try {
      await until("a running experiment", () => runningPid(store) !== undefined)
      const runId = query<{ id: string }>(store, "SELECT id FROM runs")[0]!.id
      first.kill("SIGSTOP")
      // Its heartbeat is as old as if it had been stopped for ten minutes: the lock is up for taking.
      const db = new Database(store)
      db.prepare("UPDATE runs SET lock_heartbeat = lock_heartbeat - 600000 WHERE id = ?").run(runId)
      db.close()
      const resume = twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root, timeout: 300_000 })
      second = resume
      await until("the resume to take the lock", () => query<{ lock_owner: string | null }>(store, "SELECT lock_owner FROM runs")[0]!.lock_owner?.endsWith(`:${resume.pid}`) === true)
      first.kill("SIGCONT")
      const stopped = await first
      expect(stopped.exitCode).toBe(1)
      const error = String(stopped.stderr).trim()
      expect(error.split("\n"), error).toHaveLength(1)
      expect(error).toMatch(new RegExp(`run ${runId} was taken over by [^:]+:${resume.pid} .*wrote nothing more`))
      const resumed = await resume
      expect(resumed.exitCode, String(resumed.all)).toBe(0)
      // Exactly the budget: the stopped process added no row, and every row was finished once.
      const rows = query<{ seq: number; status: string }>(store, "SELECT seq, status FROM experiments ORDER BY seq")
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6])
      expect(rows.every((r) => r.status !== "running" && r.status !== "planned")).toBe(true)
      expect(query<{ status: string }>(store, "SELECT status FROM runs")[0]!.status).toBe("completed")
    } finally {
      first.kill("SIGCONT")
      first.kill("SIGKILL")
      second?.kill("SIGKILL")
    }
  })

  it("waits out a live-looking holder on another host until its heartbeat expires", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, 0, 2)
    const store = storeOf(root)
    // A finished run, then pretend another machine holds its lock.
    const run = await twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: root })
    expect(run.exitCode, String(run.all)).toBe(0)
    const runId = query<{ id: string }>(store, "SELECT id FROM runs")[0]!.id
    const hold = (ageMs: number) => {
      const db = new Database(store)
      db.prepare("UPDATE runs SET status = 'interrupted', lock_owner = 'another-host:4242', lock_heartbeat = ? WHERE id = ?").run(Date.now() - ageMs, runId)
      db.close()
    }
    hold(1_000)
    const refused = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(refused.exitCode).not.toBe(0)
    expect(String(refused.stderr)).toMatch(/is being run by another-host:4242/)
    hold(10 * 60_000)
    const tookOver = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(tookOver.exitCode, String(tookOver.all)).toBe(0)
    expect(query<{ lock_owner: string | null }>(store, "SELECT lock_owner FROM runs")[0]!.lock_owner).toBeNull()
  })
})
