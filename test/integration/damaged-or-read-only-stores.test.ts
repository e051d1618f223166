/**
 * Stores that cannot be used normally, through the real CLI: a store with a damaged page gets one line and
 * a non-zero exit (not a stack trace), and `run` writes nothing to it (no `running` row is left); a store in
 * a read-only directory (a read-only bind mount made with bubblewrap, so even root cannot write there) can
 * still be read by `status`, `report --format json` and the dashboard.
 */
import Database from "better-sqlite3"
import { execa } from "execa"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { makeProject } from "../support/pipeline.ts"

const hasBwrap = (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, "bwrap")))
const ci = process.env.CI === "true"
const bin = path.resolve(import.meta.dirname, "../../dist/bin/twoloop.js")

/** A project with a store holding one finished run. */
const projectWithStore = async () => {
  const { root } = makeProject("quadratic-target", { git: true })
  fs.writeFileSync(
    path.join(root, "pipeline.config.json"),
    JSON.stringify({
      name: "stores",
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
    }),
  )
  const run = await twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: root })
  expect(run.exitCode, String(run.all)).toBe(0)
  const store = path.join(root, ".twoloop", "twoloop.db")
  // A read-write handle: closing it removes the -wal and -shm files (a read-only one would leave them behind).
  const db = new Database(store)
  const runId = (db.prepare("SELECT id FROM runs").get() as { id: string }).id
  db.close()
  return { root, store, runId }
}

const digest = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")

const expectOneLine = (result: { exitCode?: number | undefined; stderr?: unknown }, pattern: RegExp) => {
  expect(result.exitCode).toBe(1)
  const stderr = String(result.stderr).trim()
  expect(stderr.split("\n"), stderr).toHaveLength(1)
  expect(stderr).toMatch(pattern)
}

describe("a damaged store", () => {
  it("gets one line from every command, and run writes nothing to it", async () => {
    const { root, store } = await projectWithStore()
    // Garble the events table's root page: runs and stages still read, the first event write would fail.
    const db = new Database(store)
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'events'").get() as { rootpage: number }
    const pageSize = db.pragma("page_size", { simple: true }) as number
    db.close()
    const bytes = fs.readFileSync(store)
    for (let at = (rootpage - 1) * pageSize; at < rootpage * pageSize; at++) bytes[at] = (at * 131 + 7) & 0xff
    fs.writeFileSync(store, bytes)
    const before = digest(store)

    const run = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: root })
    expectOneLine(run, /store .*twoloop\.db is damaged .*restore it from a backup/)
    expect(digest(store)).toBe(before)
    expect(fs.existsSync(`${store}-wal`) ? fs.statSync(`${store}-wal`).size : 0).toBe(0)

    // status reads the run's events (on the damaged page); resume opens the store to write.
    for (const args of [["status"], ["resume", "20000101-000000-0000"]]) {
      const result = await twoloop([...args, "--config", "pipeline.config.json"], { cwd: root })
      expectOneLine(result, /damaged/)
    }
    expect(digest(store)).toBe(before)
  }, 300_000)
})

describe.skipIf(!hasBwrap && !ci)("a store in a read-only directory", () => {
  /** Runs the CLI with the project's .twoloop directory mounted read-only (EROFS for everyone, root included). */
  const readOnly = (dir: string, args: ReadonlyArray<string>) =>
    execa("bwrap", ["--bind", "/", "/", "--ro-bind", dir, dir, "--dev", "/dev", "--proc", "/proc", "--die-with-parent", process.execPath, bin, ...args], { reject: false, all: true, timeout: 120_000 })

  it("is read by status, report --format json and the dashboard", async () => {
    expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
    const { root, store, runId } = await projectWithStore()
    const dir = path.dirname(store)
    expect(fs.existsSync(`${store}-shm`)).toBe(false)

    const status = await readOnly(dir, ["status", "--store", store])
    expect(status.exitCode, String(status.all)).toBe(0)
    expect(String(status.stdout)).toContain(`run ${runId} (stores): completed`)

    const report = await readOnly(dir, ["report", runId, "--format", "json", "--store", store])
    expect(report.exitCode, String(report.all)).toBe(0)
    expect(JSON.parse(String(report.stdout))).toMatchObject({ runId, status: "completed" })

    const markdown = await readOnly(dir, ["report", runId, "--store", store])
    expectOneLine(markdown, /cannot write the report of run .*--format json prints it instead/)

    const dashboard = readOnly(dir, ["dashboard", "--store", store, "--port", "0"])
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let seen = ""
        dashboard.stdout!.on("data", (chunk: Buffer) => {
          seen += String(chunk)
          const match = /dashboard: (http:\/\/\S+)/.exec(seen)
          if (match) resolve(match[1]!)
        })
        dashboard.once("exit", () => reject(new Error(`the dashboard exited: ${seen}`)))
      })
      const runs = (await (await fetch(new URL("/api/runs", url))).json()) as { runs: Array<{ id: string }> }
      expect(runs.runs.map((run) => run.id)).toEqual([runId])
    } finally {
      dashboard.kill("SIGTERM")
      await dashboard
    }
    expect(fs.readdirSync(root)).toContain(".twoloop")
  }, 300_000)
})
