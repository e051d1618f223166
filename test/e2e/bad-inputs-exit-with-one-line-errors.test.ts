/**
 * Bad inputs through the real CLI: each ends with one line on stderr naming the file (and what is wrong),
 * a non-zero exit, and no corrupted state. (Config decoding errors have their own test.)
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { latestVersion } from "../../src/services/store/migrations.ts"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const project = (options: { store?: string; command?: string } = {}) => {
  const dir = tempDir("twoloop-inputs-")
  fs.cpSync(fixtureDir("quadratic-target"), path.join(dir, "target"), { recursive: true })
  fs.writeFileSync(
    path.join(dir, "pipeline.config.json"),
    JSON.stringify({
      name: "inputs",
      ...(options.store ? { store: options.store } : {}),
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: options.command ?? "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
    }),
  )
  return dir
}

const oneLineError = async (dir: string) => {
  const result = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: dir })
  expect(result.exitCode, String(result.all)).not.toBe(0)
  const stderr = String(result.stderr).trim()
  expect(stderr.split("\n"), stderr).toHaveLength(1)
  return stderr
}

describe.concurrent("bad inputs", () => {
  it("a target command that does not exist is refused before anything is created", async () => {
    const dir = project({ command: "no-such-trainer --fast" })
    const error = await oneLineError(dir)
    expect(error).toBe(`twoloop: ${path.join(dir, "pipeline.config.json")}: target.command: no-such-trainer is not on PATH`)
    expect(fs.existsSync(path.join(dir, ".twoloop"))).toBe(false)
  })

  it("an unwritable store location names the store", async () => {
    const dir = project({ store: "blocked/twoloop.db" })
    fs.writeFileSync(path.join(dir, "blocked"), "a file where the store's directory should be")
    const error = await oneLineError(dir)
    expect(error).toBe(`twoloop: cannot create store ${path.join(dir, "blocked/twoloop.db")}: its directory ${path.join(dir, "blocked")} cannot be created (a file is in the way)`)
    expect(fs.readFileSync(path.join(dir, "blocked"), "utf8")).toBe("a file where the store's directory should be")
  })

  it("a store file that is not SQLite is refused and left byte for byte as it was", async () => {
    const dir = project({ store: "notes.db" })
    const store = path.join(dir, "notes.db")
    fs.writeFileSync(store, "my lab notes, definitely not a database\n".repeat(100))
    const before = fs.readFileSync(store)
    const error = await oneLineError(dir)
    expect(error).toContain(store)
    expect(error).toMatch(/not a twoloop store/)
    expect(fs.readFileSync(store).equals(before)).toBe(true)
    expect(fs.existsSync(`${store}-wal`)).toBe(false)
  })

  it("a store from a newer twoloop is refused and not migrated", async () => {
    const dir = project({ store: "future.db" })
    const store = path.join(dir, "future.db")
    const db = new Database(store)
    db.exec("CREATE TABLE from_the_future (x)")
    db.pragma(`user_version = ${latestVersion + 1}`)
    db.close()
    const before = fs.readFileSync(store)
    const error = await oneLineError(dir)
    expect(error).toContain(store)
    expect(error).toContain(`schema version ${latestVersion + 1}, newer than this twoloop supports`)
    expect(fs.readFileSync(store).equals(before)).toBe(true)
  })

  it("a status query on a missing store says so without creating it", async () => {
    const dir = tempDir("twoloop-inputs-")
    const result = await twoloop(["status", "--store", path.join(dir, "none.db")], { cwd: dir })
    expect(result.exitCode).not.toBe(0)
    expect(String(result.stderr).trim().split("\n")).toHaveLength(1)
    expect(String(result.stderr)).toContain(path.join(dir, "none.db"))
    expect(fs.existsSync(path.join(dir, "none.db"))).toBe(false)
  })
})
