import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { acquireStore } from "../../src/services/Store.ts"
import { latestVersion, migrations } from "../../src/services/store/migrations.ts"
import { tempDir } from "../support/tmp.ts"

const open = (file: string) => Effect.scoped(acquireStore(file).pipe(Effect.map((store) => store.file)))

const tables = (file: string) => {
  const db = new Database(file, { readonly: true })
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
  const version = db.pragma("user_version", { simple: true })
  const mode = db.pragma("journal_mode", { simple: true })
  db.close()
  return { names, version, mode }
}

describe("store", () => {
  it.effect("creates and migrates a new file (and its directory), in WAL mode", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "nested", "dir", "store.db")
      yield* open(file)
      const { names, version, mode } = tables(file)
      expect(version).toBe(latestVersion)
      expect(mode).toBe("wal")
      expect(names).toEqual(expect.arrayContaining(["runs", "stages", "llm_calls", "candidates", "evaluations", "proposals", "reflections", "experiments", "library_entries", "events"]))
    }))

  it.effect("migrates an empty file and reopens an existing store without losing rows", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "store.db")
      fs.writeFileSync(file, "")
      yield* open(file)
      const db = new Database(file)
      db.prepare("INSERT INTO runs (id, name, status, config_file, config_json, config_hash, arms_json, target_dir, run_dir, started_at) VALUES ('r1','n','completed','f','{}','h','[]','t','d','now')").run()
      db.close()
      yield* open(file)
      const again = new Database(file, { readonly: true })
      expect((again.prepare("SELECT COUNT(*) AS n FROM runs").get() as { n: number }).n).toBe(1)
      again.close()
    }))

  it.effect("applies only the pending migrations of an older store", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "old.db")
      const db = new Database(file)
      db.exec(migrations[0]!.sql)
      db.pragma(`user_version = ${migrations[0]!.version}`)
      db.close()
      yield* open(file)
      expect(tables(file).version).toBe(latestVersion)
    }))

  it.effect("refuses a file that is not SQLite, without touching it", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "notes.db")
      fs.writeFileSync(file, "these are my notes, not a database\n".repeat(10))
      const before = fs.readFileSync(file, "utf8")
      const exit = yield* Effect.exit(open(file))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("not a twoloop store")
      expect(fs.readFileSync(file, "utf8")).toBe(before)
    }))

  it.effect("refuses a store from a newer twoloop", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "future.db")
      const db = new Database(file)
      db.pragma(`user_version = ${latestVersion + 5}`)
      db.close()
      const error = yield* Effect.flip(open(file))
      expect(error._tag).toBe("StoreError")
      expect(error.message).toContain(`schema version ${latestVersion + 5}, newer than this twoloop supports`)
    }))

  it.effect("reports an unwritable location", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const blocker = path.join(dir, "file")
      fs.writeFileSync(blocker, "x")
      const error = yield* Effect.flip(open(path.join(blocker, "store.db")))
      expect(error._tag).toBe("StoreError")
      expect(error.message).toMatch(/^cannot create store .*store\.db: its directory .* cannot be created \(a file is in the way\)$/)
    }))
})
