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

/**
 * A config whose experiments wait while the file `gate` exists (FIXTURE_WAIT_WHILE): while the test holds
 * the gate, a started experiment is certainly still running, however slow the machine. (The time budget
 * only sets the hard limit, 2 × 300 + 30 s: far longer than any wait at the gate.)
 */
const writeConfig = (root: string, gate: string, experiments = 3) =>
  fs.writeFileSync(
    path.join(root, "pipeline.config.json"),
    JSON.stringify({
      name: "orphans",
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 300, env: { FIXTURE_WAIT_WHILE: gate } },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments } }],
    }),
  )

/** Closes the gate: experiments that start wait until `open`. */
const closedGate = (root: string) => {
  const gate = path.join(root, "gate")
  fs.writeFileSync(gate, "")
  return { gate, open: () => fs.rmSync(gate, { force: true }) }
}

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

const until = async (what: string, check: () => boolean, timeoutMs = 300_000) => {
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

const orphanEvents = (store: string) => query<{ message: string }>(store, "SELECT message FROM events WHERE kind = 'orphan-killed'").map((e) => e.message)

describe("after a kill -9", () => {
  it("resume kills the experiment process the dead run left behind, records it, and finishes its budget", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const { gate, open } = closedGate(root)
    writeConfig(root, gate)
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
      const resuming = twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
      // The orphan waits at the gate, so it is alive when resume looks for it; resume's own experiments
      // may pass once resume has recorded killing it.
      await until("resume to kill the orphan", () => orphanEvents(store).length > 0)
      open()
      const resumed = await resuming
      expect(resumed.exitCode, String(resumed.all)).toBe(0)
      expect(String(resumed.stdout)).toMatch(new RegExp(`killed \\d+ orphaned process(es)? of experiment #\\d+ \\(pid [\\d, ]*\\b${orphan}\\b`))
      expect(alive(orphan)).toBe(false)
      expect(orphanEvents(store)).toEqual([expect.stringContaining(`pid ${orphan}`)])
    } finally {
      if (alive(orphan)) process.kill(orphan, "SIGKILL")
    }
    const rows = query<{ status: string }>(store, "SELECT status FROM experiments ORDER BY seq")
    expect(rows).toHaveLength(3)
    expect(rows.every((r) => r.status !== "running" && r.status !== "planned")).toBe(true)
  })
})

describe("one process per run", () => {
  it("refuses a second process while the first holds the lock, and takes over once the holder is dead", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const { gate, open } = closedGate(root)
    writeConfig(root, gate)
    const store = storeOf(root)
    // The first process cannot finish while the gate is closed: it holds the lock for as long as the test needs.
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
    open()
    const third = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(third.exitCode, String(third.all)).toBe(0)
    expect(query<{ status: string }>(store, "SELECT status FROM runs")[0]!.status).toBe("completed")
  })

  it("stops a process that lost its lock while it was stopped: it writes nothing more and says so", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const { gate, open } = closedGate(root)
    writeConfig(root, gate, 6)
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
      open()
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
    writeConfig(root, path.join(root, "gate-never-closed"), 3)
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
    // While the other host heartbeats (every second here, every 5 s for twoloop), it is alive however long
    // this machine takes to start the second process.
    hold(0)
    const heartbeat = setInterval(() => hold(0), 1000)
    const refused = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root }).finally(() => clearInterval(heartbeat))
    expect(refused.exitCode).not.toBe(0)
    expect(String(refused.stderr)).toMatch(/is being run by another-host:4242/)
    // Then it stops: once its last heartbeat is older than the stale limit (30 s), the lock is taken over.
    hold(10 * 60_000)
    const tookOver = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root })
    expect(tookOver.exitCode, String(tookOver.all)).toBe(0)
    expect(query<{ lock_owner: string | null }>(store, "SELECT lock_owner FROM runs")[0]!.lock_owner).toBeNull()
  })
})
