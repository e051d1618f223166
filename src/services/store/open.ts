/**
 * Opening a store file: create the directory, refuse files that are not SQLite, come from a newer twoloop or
 * are damaged (a write open checks every page first, so a damaged store is never written to), set WAL and
 * friends, and apply pending migrations, each in its own transaction. A read-only open also works where the
 * store's directory cannot be written (SQLite would need to create the `-shm` file there): it reads an
 * in-memory copy of the file.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { latestVersion, migrations } from "./migrations.ts"

export type Db = Database.Database

export class OpenStoreFailure extends Error {}

const sqliteHeader = "SQLite format 3\u0000"

const checkHeader = (file: string) => {
  let handle: number | undefined
  try {
    handle = fs.openSync(file, "r")
    const buffer = Buffer.alloc(16)
    const read = fs.readSync(handle, buffer, 0, 16, 0)
    if (read === 0) return
    if (read < 16 || buffer.toString("latin1") !== sqliteHeader)
      throw new OpenStoreFailure(`${file} is not a twoloop store (not an SQLite database); point "store" at another file`)
  } catch (error) {
    if (error instanceof OpenStoreFailure) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return
    throw new OpenStoreFailure(`cannot read store ${file}: ${(error as Error).message}`)
  } finally {
    if (handle !== undefined) fs.closeSync(handle)
  }
}

export interface OpenOptions {
  readonly readonly?: boolean
  /** Open read-write when the store can be written, else read-only (status, report, compare); no full check. */
  readonly readonlyIfUnwritable?: boolean
  /** Skip the check of every page a write open does (commands that only read, or migrate). */
  readonly skipCheck?: boolean
}

const sqliteCode = (error: unknown) => String((error as { code?: unknown }).code ?? "")

/** True for SQLite's "this file is damaged" errors. */
export const isCorruption = (error: unknown) => /^SQLITE_(CORRUPT|NOTADB)/.test(sqliteCode(error))

const damaged = (file: string, detail: string) =>
  new OpenStoreFailure(`store ${file} is damaged (${detail}); twoloop will not write to it: restore it from a backup, or point "store" at a new file`)

/**
 * A read-only view of a WAL store whose directory cannot be written: the file's bytes, marked as a
 * rollback-journal database, opened in memory. Refused when a write-ahead log with content sits next to it
 * (its transactions would be missing from the copy).
 */
const openInMemoryCopy = (file: string): Db => {
  const wal = fs.statSync(`${file}-wal`, { throwIfNoEntry: false })
  if (wal && wal.size > 0)
    throw new OpenStoreFailure(`cannot read store ${file}: its directory is read-only and its write-ahead log ${file}-wal has not been checkpointed; open it once where it can be written`)
  const bytes = fs.readFileSync(file)
  if (bytes.length >= 20) {
    bytes[18] = 1 // file format write version: legacy (no WAL)
    bytes[19] = 1 // file format read version
  }
  return new Database(bytes, { readonly: true })
}

const openReadOnly = (file: string): Db => {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    try {
      db.pragma("user_version", { simple: true })
      return db
    } catch (error) {
      db.close()
      throw error
    }
  } catch (error) {
    if (sqliteCode(error) === "SQLITE_CANTOPEN" && fs.existsSync(file)) return openInMemoryCopy(file)
    throw error
  }
}

/** The store (or its directory) cannot be written; read-only commands fall back to a read-only open. */
class StoreUnwritable extends OpenStoreFailure {}

/** Opens (creating if needed) and migrates a store. Throws OpenStoreFailure with a one-line message. */
export const openDatabase = (file: string, options: OpenOptions = {}): Db => {
  if (options.readonlyIfUnwritable && !options.readonly) {
    try {
      return openDatabase(file, { skipCheck: true })
    } catch (error) {
      if (error instanceof StoreUnwritable && fs.existsSync(file)) return openDatabase(file, { readonly: true })
      throw error
    }
  }
  if (options.readonly) {
    if (!fs.existsSync(file)) throw new OpenStoreFailure(`store ${file} does not exist`)
  } else {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const why = code === "EEXIST" || code === "ENOTDIR" ? "a file is in the way" : code === "EACCES" || code === "EPERM" || code === "EROFS" ? "permission denied" : (code ?? (error as Error).message)
      throw new (code === "EACCES" || code === "EPERM" || code === "EROFS" ? StoreUnwritable : OpenStoreFailure)(`cannot create store ${file}: its directory ${path.dirname(file)} cannot be created (${why})`)
    }
  }
  checkHeader(file)
  let db: Db
  try {
    db = options.readonly ? openReadOnly(file) : new Database(file)
  } catch (error) {
    if (error instanceof OpenStoreFailure) throw error
    if (isCorruption(error)) throw damaged(file, (error as Error).message)
    throw new OpenStoreFailure(`cannot open store ${file}: ${(error as Error).message}`)
  }
  try {
    db.pragma("busy_timeout = 10000")
    // The version is checked before anything is written: a newer store is left byte for byte as it was.
    const version = db.pragma("user_version", { simple: true }) as number
    if (version > latestVersion)
      throw new OpenStoreFailure(`store ${file} has schema version ${version}, newer than this twoloop supports (${latestVersion}); upgrade twoloop to open it`)
    if (!options.readonly) {
      // Every page, before the first write: a damaged store is refused with nothing written to it.
      const check = version > 0 && !options.skipCheck ? (db.pragma("quick_check(1)", { simple: true }) as string) : "ok"
      if (check !== "ok") throw damaged(file, `quick_check: ${String(check).split("\n")[0]}`)
      db.pragma("journal_mode = WAL")
      db.pragma("synchronous = NORMAL")
    }
    db.pragma("foreign_keys = ON")
    if (options.readonly) {
      if (version < latestVersion) throw new OpenStoreFailure(`store ${file} has schema version ${version}; open it once with "twoloop status" to migrate it`)
      return db
    }
    for (const migration of migrations) {
      if (migration.version <= version) continue
      db.transaction(() => {
        if (migration.sql) db.exec(migration.sql)
        migration.run?.(db)
        db.pragma(`user_version = ${migration.version}`)
      }).immediate()
    }
    return db
  } catch (error) {
    db.close()
    if (error instanceof OpenStoreFailure) throw error
    const code = (error as { code?: string }).code ?? ""
    if (code === "SQLITE_NOTADB") throw new OpenStoreFailure(`${file} is not a twoloop store (not an SQLite database); point "store" at another file`)
    if (isCorruption(error)) throw damaged(file, (error as Error).message)
    if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_CANTOPEN") throw new StoreUnwritable(`cannot write store ${file}: ${(error as Error).message}`)
    throw error
  }
}
