/**
 * Inner-level bookkeeping: experiments are inserted as `planned` (with their edit) before they run, marked
 * `running` with the process they run in, and finished with their result and judgement. A `planned` or
 * `running` row found on resume is re-executed in place, so nothing is lost or counted twice.
 */
import type { Edit } from "../../domain/Edit.ts"
import { type EnvironmentFingerprint, Experiment, type ExperimentPurpose, type ExperimentStatus, type Judgement } from "../../domain/Experiment.ts"
import { jsonOrNull, rowDecoder } from "./decode.ts"
import type { Db } from "./open.ts"
import { now } from "./runs.ts"

interface ExperimentRow {
  id: number
  stage_id: number
  seq: number
  worker: number
  purpose: ExperimentPurpose
  parent_id: number | null
  scenario: string | null
  status: ExperimentStatus
  proposer: string
  offline: number
  base_commit: string | null
  result_commit: string | null
  direction: string | null
  rationale: string | null
  description: string | null
  edit_json: string | null
  diff: string | null
  seed: number
  time_budget: number
  metric: number | null
  seconds: number | null
  exit_code: number | null
  signal: string | null
  peak_memory_mb: number | null
  log_path: string | null
  log_tail: string | null
  reason: string | null
  judgement_json: string | null
  env_json: string | null
  pid: number | null
  host: string | null
  job_id: string | null
  attempt: number
  created_at: string
  started_at: string | null
  ended_at: string | null
}

const toExperiment = rowDecoder(Experiment, "experiments", (row: ExperimentRow) => ({
  id: row.id,
  stageId: row.stage_id,
  seq: row.seq,
  worker: row.worker,
  purpose: row.purpose,
  parentId: row.parent_id,
  scenario: row.scenario,
  status: row.status,
  proposer: row.proposer,
  offline: row.offline === 1,
  baseCommit: row.base_commit,
  resultCommit: row.result_commit,
  direction: row.direction,
  rationale: row.rationale,
  description: row.description,
  edit: jsonOrNull(row.edit_json),
  diff: row.diff,
  seed: row.seed,
  timeBudget: row.time_budget,
  metric: row.metric,
  seconds: row.seconds,
  exitCode: row.exit_code,
  signal: row.signal,
  peakMemoryMb: row.peak_memory_mb,
  logPath: row.log_path,
  logTail: row.log_tail,
  reason: row.reason,
  judgement: jsonOrNull(row.judgement_json),
  env: jsonOrNull(row.env_json),
  pid: row.pid,
  host: row.host,
  jobId: row.job_id,
  attempt: row.attempt,
  createdAt: row.created_at,
  startedAt: row.started_at,
  endedAt: row.ended_at,
}), (row) => `#${row.id}`)

export interface PlannedExperiment {
  readonly stageId: number
  readonly worker: number
  readonly purpose: ExperimentPurpose
  readonly parentId?: number | null
  readonly scenario?: string | null
  readonly proposer: string
  readonly offline: boolean
  readonly baseCommit: string | null
  readonly direction?: string | null
  readonly rationale?: string | null
  readonly description?: string | null
  readonly edit?: Edit | null
  readonly diff?: string | null
  readonly seed: number
  readonly timeBudget: number
}

/** Inserts a planned experiment with the next sequence number of its stage; returns the row. */
export const planExperiment = (db: Db, plan: PlannedExperiment): Experiment =>
  db.transaction(() => {
    const { next } = db.prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM experiments WHERE stage_id = ?`).get(plan.stageId) as { next: number }
    const id = Number(
      db
        .prepare(
          `INSERT INTO experiments (stage_id, seq, worker, purpose, parent_id, scenario, status, proposer, offline, base_commit,
             direction, rationale, description, edit_json, diff, seed, time_budget, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          plan.stageId,
          next,
          plan.worker,
          plan.purpose,
          plan.parentId ?? null,
          plan.scenario ?? null,
          plan.proposer,
          plan.offline ? 1 : 0,
          plan.baseCommit,
          plan.direction ?? null,
          plan.rationale ?? null,
          plan.description ?? null,
          plan.edit ? JSON.stringify(plan.edit) : null,
          plan.diff ?? null,
          plan.seed,
          plan.timeBudget,
          now(),
        ).lastInsertRowid,
    )
    return getExperiment(db, id)!
  })()

export const getExperiment = (db: Db, id: number): Experiment | undefined => {
  const row = db.prepare(`SELECT * FROM experiments WHERE id = ?`).get(id) as ExperimentRow | undefined
  return row && toExperiment(row)
}

export const markExperimentRunning = (db: Db, id: number, process: { pid: number | null; host: string; jobId?: string | null; logPath: string }): void => {
  db.prepare(
    `UPDATE experiments SET status = 'running', pid = ?, host = ?, job_id = ?, log_path = ?, started_at = ?, attempt = attempt + 1 WHERE id = ?`,
  ).run(process.pid, process.host, process.jobId ?? null, process.logPath, now(), id)
}

/**
 * Puts an experiment whose process was stopped by an interruption back in the queue: it runs again on
 * resume (a cancelled cluster job must not be re-attached to).
 */
export const requeueExperiment = (db: Db, id: number): void => {
  db.prepare(`UPDATE experiments SET status = 'planned', pid = NULL, job_id = NULL WHERE id = ? AND status = 'running'`).run(id)
}

/** Records the job id of a queued cluster job before it runs (so resume can re-attach or cancel it). */
export const setExperimentJob = (db: Db, id: number, jobId: string): void => {
  db.prepare(`UPDATE experiments SET job_id = ? WHERE id = ?`).run(jobId, id)
}

export interface ExperimentResult {
  readonly status: Exclude<ExperimentStatus, "planned" | "running">
  readonly metric?: number | null
  readonly seconds?: number | null
  readonly exitCode?: number | null
  readonly signal?: string | null
  readonly peakMemoryMb?: number | null
  readonly logTail?: string | null
  readonly reason?: string | null
  readonly judgement?: Judgement | null
  readonly env?: EnvironmentFingerprint | null
  readonly resultCommit?: string | null
  readonly diff?: string | null
}

export const finishExperiment = (db: Db, id: number, result: ExperimentResult): void => {
  db.prepare(
    `UPDATE experiments SET status = ?, metric = ?, seconds = ?, exit_code = ?, signal = ?, peak_memory_mb = ?, log_tail = ?,
       reason = ?, judgement_json = ?, env_json = COALESCE(?, env_json), result_commit = ?, diff = COALESCE(?, diff), ended_at = ?
     WHERE id = ?`,
  ).run(
    result.status,
    result.metric ?? null,
    result.seconds ?? null,
    result.exitCode ?? null,
    result.signal ?? null,
    result.peakMemoryMb ?? null,
    result.logTail ?? null,
    result.reason ?? null,
    result.judgement ? JSON.stringify(result.judgement) : null,
    result.env ? JSON.stringify(result.env) : null,
    result.resultCommit ?? null,
    result.diff ?? null,
    now(),
    id,
  )
}

/** Changes the verdict of an already measured experiment (e.g. a grey-zone candidate after its confirm runs). */
export const judgeExperiment = (db: Db, id: number, status: "keep" | "discard", judgement: Judgement, resultCommit: string | null): void => {
  db.prepare(`UPDATE experiments SET status = ?, judgement_json = ?, result_commit = ?, reason = ? WHERE id = ?`).run(
    status,
    JSON.stringify(judgement),
    resultCommit,
    judgement.reason,
    id,
  )
}

export const listExperiments = (db: Db, stageId: number): Array<Experiment> =>
  (db.prepare(`SELECT * FROM experiments WHERE stage_id = ? ORDER BY seq`).all(stageId) as Array<ExperimentRow>).map(toExperiment)

export const listRunExperiments = (db: Db, runId: string): Array<Experiment> =>
  (
    db
      .prepare(`SELECT e.* FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ? ORDER BY s.id, e.seq`)
      .all(runId) as Array<ExperimentRow>
  ).map(toExperiment)

/** The most recent experiments of a stage, newest first (bounded: proposers never see the whole history). */
export const recentExperiments = (db: Db, stageId: number, limit: number): Array<Experiment> =>
  (db.prepare(`SELECT * FROM experiments WHERE stage_id = ? ORDER BY seq DESC LIMIT ?`).all(stageId, limit) as Array<ExperimentRow>).map(toExperiment)

export const unfinishedExperiments = (db: Db, stageId: number): Array<Experiment> =>
  (
    db.prepare(`SELECT * FROM experiments WHERE stage_id = ? AND status IN ('planned','running') ORDER BY seq`).all(stageId) as Array<ExperimentRow>
  ).map(toExperiment)

/** Experiments of a run still marked running (candidates for orphan cleanup on resume). */
export const runningExperimentsOfRun = (db: Db, runId: string): Array<Experiment> =>
  (
    db
      .prepare(`SELECT e.* FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ? AND e.status = 'running' ORDER BY e.id`)
      .all(runId) as Array<ExperimentRow>
  ).map(toExperiment)

export const statusCounts = (db: Db, filter: { stageId?: number; runId?: string }): Record<string, number> => {
  const rows = (
    filter.stageId !== undefined
      ? db.prepare(`SELECT status, COUNT(*) AS n FROM experiments WHERE stage_id = ? GROUP BY status`).all(filter.stageId)
      : db
          .prepare(`SELECT e.status, COUNT(*) AS n FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ? GROUP BY e.status`)
          .all(filter.runId)
  ) as Array<{ status: string; n: number }>
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}
