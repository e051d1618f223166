/**
 * Opening a store file: create the directory, refuse files that are not SQLite or come from a newer
 * twoloop, set WAL and friends, and apply pending migrations, each in its own transaction.
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
}

/** Opens (creating if needed) and migrates a store. Throws OpenStoreFailure with a one-line message. */
export const openDatabase = (file: string, options: OpenOptions = {}): Db => {
  if (options.readonly) {
    if (!fs.existsSync(file)) throw new OpenStoreFailure(`store ${file} does not exist`)
  } else {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const why = code === "EEXIST" || code === "ENOTDIR" ? "a file is in the way" : code === "EACCES" || code === "EPERM" || code === "EROFS" ? "permission denied" : (code ?? (error as Error).message)
      throw new OpenStoreFailure(`cannot create store ${file}: its directory ${path.dirname(file)} cannot be created (${why})`)
    }
  }
  checkHeader(file)
  let db: Db
  try {
    db = new Database(file, options.readonly ? { readonly: true, fileMustExist: true } : {})
  } catch (error) {
    throw new OpenStoreFailure(`cannot open store ${file}: ${(error as Error).message}`)
  }
  try {
    db.pragma("busy_timeout = 10000")
    // The version is checked before anything is written: a newer store is left byte for byte as it was.
    const version = db.pragma("user_version", { simple: true }) as number
    if (version > latestVersion)
      throw new OpenStoreFailure(`store ${file} has schema version ${version}, newer than this twoloop supports (${latestVersion}); upgrade twoloop to open it`)
    if (!options.readonly) {
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
    const code = (error as { code?: string }).code
    if (code === "SQLITE_NOTADB") throw new OpenStoreFailure(`${file} is not a twoloop store (not an SQLite database); point "store" at another file`)
    if (code === "SQLITE_READONLY" || code === "SQLITE_CANTOPEN") throw new OpenStoreFailure(`cannot write store ${file}: ${(error as Error).message}`)
    throw error
  }
}
