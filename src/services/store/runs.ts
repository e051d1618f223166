/**
 * Runs, their planned stages, the run lock, and the event log. Plain functions over a database handle;
 * the Store service lifts them into Effects.
 */
import * as os from "node:os"
import type { Handoff } from "../../domain/Handoff.ts"
import { Run, type RunStatus, StageRecord, type StageStatus } from "../../domain/Run.ts"
import { jsonOrNull, rowDecoder } from "./decode.ts"
import type { Db } from "./open.ts"

export const now = () => new Date().toISOString()

interface RunRow {
  id: string
  name: string
  status: RunStatus
  config_file: string
  config_json: string
  config_hash: string
  arms_json: string
  target_dir: string
  target_commit: string | null
  target_dirty: number
  run_dir: string
  started_at: string
  ended_at: string | null
  error: string | null
}

const toRun = rowDecoder(Run, "runs", (row: RunRow) => ({
  id: row.id,
  name: row.name,
  status: row.status,
  configFile: row.config_file,
  configJson: row.config_json,
  configHash: row.config_hash,
  arms: JSON.parse(row.arms_json),
  targetDir: row.target_dir,
  targetCommit: row.target_commit,
  targetDirty: row.target_dirty === 1,
  runDir: row.run_dir,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  error: row.error,
}), (row) => row.id)

export interface NewRun {
  readonly id: string
  readonly name: string
  readonly configFile: string
  readonly configJson: string
  readonly configHash: string
  readonly arms: ReadonlyArray<string>
  readonly targetDir: string
  readonly targetCommit: string | null
  readonly targetDirty: boolean
  readonly runDir: string
}

export const insertRun = (db: Db, run: NewRun): void => {
  db.prepare(
    `INSERT INTO runs (id, name, status, config_file, config_json, config_hash, arms_json, target_dir, target_commit, target_dirty, run_dir, started_at)
     VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(run.id, run.name, run.configFile, run.configJson, run.configHash, JSON.stringify(run.arms), run.targetDir, run.targetCommit, run.targetDirty ? 1 : 0, run.runDir, now())
}

export const getRun = (db: Db, id: string): Run | undefined => {
  const row = db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined
  return row && toRun(row)
}

export const listRuns = (db: Db, limit = 100): Array<Run> =>
  (db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`).all(limit) as Array<RunRow>).map(toRun)

export const latestRun = (db: Db): Run | undefined => listRuns(db, 1)[0]

export const setRunStatus = (db: Db, id: string, status: RunStatus, error: string | null = null): void => {
  const ended = status === "running" ? null : now()
  db.prepare(`UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?`).run(status, ended, error, id)
}

// ---------------------------------------------------------------------------------------------------------
// Run lock: one live process per run. A lock whose heartbeat is older than `staleMs`, or whose owner is a
// dead process on this host, is taken over.

export const lockOwnerId = (pid = process.pid) => `${os.hostname()}:${pid}`

const ownerIsDeadHere = (owner: string): boolean => {
  const [host, pidText] = owner.split(":")
  if (host !== os.hostname()) return false
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}

export type LockResult = { readonly acquired: true } | { readonly acquired: false; readonly owner: string; readonly ageMs: number }

export const acquireRunLock = (db: Db, runId: string, owner: string, staleMs: number): LockResult =>
  db
    .transaction((): LockResult => {
      const row = db.prepare(`SELECT lock_owner, lock_heartbeat FROM runs WHERE id = ?`).get(runId) as
        | { lock_owner: string | null; lock_heartbeat: number | null }
        | undefined
      if (!row) throw new Error(`run ${runId} does not exist`)
      const nowMs = Date.now()
      const ageMs = row.lock_heartbeat === null ? Infinity : nowMs - row.lock_heartbeat
      if (row.lock_owner !== null && row.lock_owner !== owner && ageMs < staleMs && !ownerIsDeadHere(row.lock_owner))
        return { acquired: false, owner: row.lock_owner, ageMs }
      db.prepare(`UPDATE runs SET lock_owner = ?, lock_heartbeat = ? WHERE id = ?`).run(owner, nowMs, runId)
      return { acquired: true }
    })
    .immediate()

/** Who holds a run's lock now (null when nobody does). */
export const lockOwnerOf = (db: Db, runId: string): string | null =>
  (db.prepare(`SELECT lock_owner FROM runs WHERE id = ?`).get(runId) as { lock_owner: string | null } | undefined)?.lock_owner ?? null

/** The message of the SQLite error a fenced write raises once the lock is someone else's. */
export const lockLostMarker = "twoloop: the run lock was taken over"

const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`

/**
 * Fences this connection's writes to the lock holder: temporary triggers (they live and die with this
 * connection) abort every insert, update or delete on the store's tables unless `owner` still holds the
 * run's lock. A process that was stopped while another took its run over cannot write one more row.
 */
export const fenceRunWrites = (db: Db, runId: string, owner: string): void => {
  const tables = (db.prepare(`SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map((row) => row.name)
  const guard = `WHEN NOT EXISTS (SELECT 1 FROM main.runs WHERE id = ${sqlText(runId)} AND lock_owner = ${sqlText(owner)}) BEGIN SELECT RAISE(ABORT, ${sqlText(lockLostMarker)}); END`
  db.transaction(() => {
    for (const table of tables)
      for (const operation of ["INSERT", "UPDATE", "DELETE"])
        db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS "twoloop_fence_${table}_${operation.toLowerCase()}" BEFORE ${operation} ON main."${table}" ${guard}`)
  })()
}

/** Removes the fence (after the lock was released on purpose). */
export const unfenceRunWrites = (db: Db): void => {
  const triggers = db.prepare(`SELECT name FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE 'twoloop_fence_%'`).all() as Array<{ name: string }>
  for (const trigger of triggers) db.exec(`DROP TRIGGER IF EXISTS temp."${trigger.name}"`)
}

/** Refreshes the heartbeat; false when another process has taken the lock over. */
export const heartbeatRunLock = (db: Db, runId: string, owner: string): boolean =>
  db.prepare(`UPDATE runs SET lock_heartbeat = ? WHERE id = ? AND lock_owner = ?`).run(Date.now(), runId, owner).changes === 1

export const releaseRunLock = (db: Db, runId: string, owner: string): void => {
  db.prepare(`UPDATE runs SET lock_owner = NULL, lock_heartbeat = NULL WHERE id = ? AND lock_owner = ?`).run(runId, owner)
  unfenceRunWrites(db)
}

// ---------------------------------------------------------------------------------------------------------
// Stages

interface StageRow {
  id: number
  run_id: string
  arm: string
  position: number
  kind: string
  name: string
  status: StageStatus
  input_json: string | null
  handoff_json: string | null
  state_json: string | null
  summary_json: string | null
  started_at: string | null
  ended_at: string | null
  error: string | null
}

const toStage = rowDecoder(StageRecord, "stages", (row: StageRow) => ({
  id: row.id,
  runId: row.run_id,
  arm: row.arm,
  position: row.position,
  kind: row.kind,
  name: row.name,
  status: row.status,
  input: jsonOrNull(row.input_json),
  handoff: jsonOrNull(row.handoff_json),
  state: jsonOrNull(row.state_json),
  summary: jsonOrNull(row.summary_json),
  startedAt: row.started_at,
  endedAt: row.ended_at,
  error: row.error,
}), (row) => row.id)

export interface PlannedStage {
  readonly arm: string
  readonly position: number
  readonly kind: string
  readonly name: string
}

/** Inserts the planned stages of a run; idempotent (existing rows are kept). */
export const planStages = (db: Db, runId: string, stages: ReadonlyArray<PlannedStage>): void => {
  const insert = db.prepare(`INSERT OR IGNORE INTO stages (run_id, arm, position, kind, name, status) VALUES (?, ?, ?, ?, ?, 'pending')`)
  db.transaction(() => {
    for (const stage of stages) insert.run(runId, stage.arm, stage.position, stage.kind, stage.name)
  })()
}

export const listStages = (db: Db, runId: string): Array<StageRecord> =>
  (db.prepare(`SELECT * FROM stages WHERE run_id = ? ORDER BY CASE arm WHEN 'hybrid' THEN 0 ELSE 1 END, arm, position`).all(runId) as Array<StageRow>).map(toStage)

export const getStage = (db: Db, stageId: number): StageRecord | undefined => {
  const row = db.prepare(`SELECT * FROM stages WHERE id = ?`).get(stageId) as StageRow | undefined
  return row && toStage(row)
}

export const startStage = (db: Db, stageId: number, input: Handoff): void => {
  db.prepare(`UPDATE stages SET status = 'running', input_json = ?, started_at = COALESCE(started_at, ?), error = NULL WHERE id = ?`).run(
    JSON.stringify(input),
    now(),
    stageId,
  )
}

/** Persists the handoff and marks the stage completed, in one statement. */
export const completeStage = (db: Db, stageId: number, handoff: Handoff, summary: unknown): void => {
  db.prepare(`UPDATE stages SET status = 'completed', handoff_json = ?, summary_json = ?, ended_at = ? WHERE id = ?`).run(
    JSON.stringify(handoff),
    JSON.stringify(summary),
    now(),
    stageId,
  )
}

export const setStageStatus = (db: Db, stageId: number, status: StageStatus, error: string | null = null): void => {
  db.prepare(`UPDATE stages SET status = ?, error = ?, ended_at = ? WHERE id = ?`).run(status, error, status === "running" ? null : now(), stageId)
}

export const saveStageState = (db: Db, stageId: number, state: unknown): void => {
  db.prepare(`UPDATE stages SET state_json = ? WHERE id = ?`).run(JSON.stringify(state), stageId)
}

export const saveStageSummary = (db: Db, stageId: number, summary: unknown): void => {
  db.prepare(`UPDATE stages SET summary_json = ? WHERE id = ?`).run(JSON.stringify(summary), stageId)
}

// ---------------------------------------------------------------------------------------------------------
// Events: a human-readable progress log (what `twoloop status` and the dashboard show)

export interface EventRow {
  readonly id: number
  readonly runId: string
  readonly stageId: number | null
  readonly kind: string
  readonly message: string
  readonly data: unknown
  readonly createdAt: string
}

export const addEvent = (db: Db, runId: string, stageId: number | null, kind: string, message: string, data?: unknown): void => {
  db.prepare(`INSERT INTO events (run_id, stage_id, kind, message, data_json, created_at) VALUES (?, ?, ?, ?, ?, ?)`).run(
    runId,
    stageId,
    kind,
    message,
    data === undefined ? null : JSON.stringify(data),
    now(),
  )
}

export const listEvents = (db: Db, runId: string, afterId = 0, limit = 1000): Array<EventRow> =>
  (
    db.prepare(`SELECT * FROM events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`).all(runId, afterId, limit) as Array<{
      id: number
      run_id: string
      stage_id: number | null
      kind: string
      message: string
      data_json: string | null
      created_at: string
    }>
  ).map((row) => ({
    id: row.id,
    runId: row.run_id,
    stageId: row.stage_id,
    kind: row.kind,
    message: row.message,
    data: jsonOrNull(row.data_json),
    createdAt: row.created_at,
  }))
