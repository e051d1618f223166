/** Prompt library entries (in `$TWOLOOP_HOME/library.db`, same schema as a run store). */
import { LibraryEntry } from "../../domain/LibraryEntry.ts"
import { rowDecoder } from "./decode.ts"
import type { Db } from "./open.ts"

interface LibraryRow {
  id: string
  project: string
  target: string
  metric: string
  direction: string
  gain: number | null
  run_id: string | null
  lineage_json: string
  model: string
  offline: number
  components_json: string
  source: string
  created_at: string
}

const toEntry = rowDecoder(LibraryEntry, "library_entries", (row: LibraryRow) => ({
  id: row.id,
  project: row.project,
  target: row.target,
  metric: row.metric,
  direction: row.direction,
  gain: row.gain,
  runId: row.run_id,
  lineage: JSON.parse(row.lineage_json),
  model: row.model,
  offline: row.offline === 1,
  components: JSON.parse(row.components_json),
  source: row.source,
  createdAt: row.created_at,
}), (row) => row.id)

/** Inserts or replaces an entry by id (ids are content-derived, so re-saving the same prompt is idempotent). */
export const putLibraryEntry = (db: Db, entry: LibraryEntry): void => {
  db.prepare(
    `INSERT OR REPLACE INTO library_entries (id, project, target, metric, direction, gain, run_id, lineage_json, model, offline, components_json, source, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    entry.id,
    entry.project,
    entry.target,
    entry.metric,
    entry.direction,
    entry.gain,
    entry.runId,
    JSON.stringify(entry.lineage),
    entry.model,
    entry.offline ? 1 : 0,
    JSON.stringify(entry.components),
    entry.source,
    entry.createdAt,
  )
}

export const getLibraryEntry = (db: Db, id: string): LibraryEntry | undefined => {
  const row = db.prepare(`SELECT * FROM library_entries WHERE id = ? OR id LIKE ? ORDER BY id = ? DESC LIMIT 2`).all(id, `${id}%`, id) as Array<LibraryRow>
  if (row.length === 0) return undefined
  if (row.length > 1 && row[0]!.id !== id) return undefined
  return toEntry(row[0]!)
}

export const listLibraryEntries = (db: Db, filter: { project?: string } = {}): Array<LibraryEntry> =>
  (
    db
      .prepare(`SELECT * FROM library_entries WHERE (? IS NULL OR project = ?) ORDER BY created_at DESC, id`)
      .all(filter.project ?? null, filter.project ?? null) as Array<LibraryRow>
  ).map(toEntry)

/** Removes an entry by its exact id; true when there was one. */
export const deleteLibraryEntry = (db: Db, id: string): boolean => db.prepare(`DELETE FROM library_entries WHERE id = ?`).run(id).changes === 1
