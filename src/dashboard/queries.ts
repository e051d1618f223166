/**
 * The dashboard's reads: everything comes through a read-only handle, through the store's repository
 * functions and the report model where they exist, shaped by `views.ts`. A run's page loads its report
 * data; the runs list reads only each run's figures with a few aggregate queries (`runFigures.ts`), so its
 * cost does not grow with a run's experiments. Both are cached: a running run's once per store change
 * (SQLite's `data_version`), a finished run's until it changes status. Returns undefined for an unknown
 * run, experiment or call; never writes.
 */
import { Effect } from "effect"
import type { LlmCall } from "../domain/LlmCall.ts"
import type { Run } from "../domain/Run.ts"
import { reportOf } from "../pipeline/report/write.ts"
import { roleOf } from "../pipeline/StageKind.ts"
import type { ReportData, RunReport } from "../pipeline/report/model.ts"
import { makeStore } from "../services/Store.ts"
import { getExperiment } from "../services/store/experiments.ts"
import { getLlmCall } from "../services/store/llmCalls.ts"
import { latestVersion } from "../services/store/migrations.ts"
import type { Db } from "../services/store/open.ts"
import { listIterationReflections, listProposals } from "../services/store/outer.ts"
import { getRun, getStage, listRuns } from "../services/store/runs.ts"
import { type LlmCallRow, type LlmView, llmView } from "./llmView.ts"
import { type OuterView, outerView } from "./outerView.ts"
import { runFiguresReader } from "./runFigures.ts"
import {
  type ExperimentDetail,
  experimentDetail,
  type ExperimentFilter,
  type ExperimentRow,
  experimentRow,
  figuresOfReport,
  filterExperiments,
  type ProgressSeries,
  type RunFigures,
  progressSeries,
  type RunRow,
  runRow,
  type StageRow,
  stageRow,
  statusCounts,
} from "./views.ts"

export interface EventLine {
  readonly id: number
  readonly stageId: number | null
  readonly kind: string
  readonly message: string
  readonly createdAt: string
}

export interface RunPage {
  readonly run: RunRow
  readonly details: { readonly configFile: string; readonly configHash: string; readonly targetDir: string; readonly targetCommit: string | null; readonly targetDirty: boolean; readonly runDir: string }
  readonly stages: ReadonlyArray<StageRow>
  readonly report: RunReport
  /** One series per inner stage, in run order (the hybrid arm first). */
  readonly progress: ReadonlyArray<ProgressSeries>
  readonly events: ReadonlyArray<EventLine>
}

export interface ExperimentsPage {
  readonly counts: Record<string, number>
  readonly stages: ReadonlyArray<{ readonly id: number; readonly name: string; readonly arm: string; readonly role: "outer" | "inner" }>
  readonly rows: ReadonlyArray<ExperimentRow>
}

export interface ProposalText {
  readonly stageId: number
  readonly iteration: number
  readonly kind: string
  readonly accepted: boolean
  readonly reason: string
  readonly offline: boolean
  readonly reflectionPrompt: string | null
  readonly reflectionOutput: string | null
  readonly reflections: ReadonlyArray<{ readonly component: string; readonly prompt: string; readonly output: string; readonly offline: boolean; readonly llmCallId: number | null; readonly costUsd: number }>
}

export interface CompareEntry {
  readonly run: RunRow
  readonly report: RunReport
  /** The primary arm's last inner stage. */
  readonly progress: ProgressSeries | null
}

export type LlmCallDetail = LlmCall

export interface DashboardQueries {
  /** Changes whenever any connection commits to the store (cheap; polled for live updates). */
  readonly version: () => string
  readonly storeInfo: () => { readonly file: string; readonly schemaVersion: number; readonly supportedVersion: number; readonly runs: number }
  readonly runs: () => Array<RunRow>
  readonly run: (runId: string) => RunPage | undefined
  readonly experiments: (runId: string, filter: ExperimentFilter) => ExperimentsPage | undefined
  readonly experiment: (id: number) => ExperimentDetail | undefined
  readonly outer: (runId: string) => Array<OuterView> | undefined
  readonly proposal: (stageId: number, iteration: number) => ProposalText | undefined
  readonly llm: (runId: string) => LlmView | undefined
  readonly llmCall: (id: number) => LlmCallDetail | undefined
  readonly compare: (runIds: ReadonlyArray<string>) => Array<CompareEntry | { readonly runId: string; readonly missing: true }>
}

const llmColumns = `id, stage_id, purpose, model, input_tokens, output_tokens, cost_usd, latency_ms, cached, attempt, error, created_at`

interface LlmRow {
  id: number
  stage_id: number | null
  purpose: string
  model: string
  input_tokens: number | null
  output_tokens: number | null
  cost_usd: number | null
  latency_ms: number
  cached: number
  attempt: number
  error: string | null
  created_at: string
}

const toLlmCallRow = (row: LlmRow): LlmCallRow => ({
  id: row.id,
  stageId: row.stage_id,
  purpose: row.purpose,
  model: row.model,
  inputTokens: row.input_tokens,
  outputTokens: row.output_tokens,
  costUsd: row.cost_usd,
  latencyMs: row.latency_ms,
  cached: row.cached === 1,
  attempt: row.attempt,
  error: row.error,
  createdAt: row.created_at,
})

const primaryInnerStage = (data: ReportData) => {
  const inner = data.stages.filter((s) => data.roles[s.kind] === "inner")
  const arms = [...new Set(inner.map((s) => s.arm))]
  const primary = arms.includes("hybrid") ? "hybrid" : arms[0]
  return inner.filter((s) => s.arm === primary).at(-1)
}

/** Queries over a handle opened read-only (`openDatabase(file, { readonly: true })`). */
export const makeQueries = (db: Db, file: string): DashboardQueries => {
  const store = makeStore(db, file)
  const cache = new Map<string, { key: string; built: { report: RunReport; data: ReportData } | undefined }>()
  const figuresCache = new Map<string, { key: string; figures: RunFigures }>()
  const readFigures = runFiguresReader(db)
  const version = () => String(db.pragma("data_version", { simple: true }))
  /** A finished run's rows no longer change (a resume makes it `running` again), so what is read from them is kept until then. */
  const cacheKey = (run: Run) => (run.status === "running" ? `running:${version()}` : `${run.status}:${run.endedAt}`)

  const load = (runId: string) => {
    const run = getRun(db, runId)
    if (!run) return undefined
    const key = cacheKey(run)
    const hit = cache.get(runId)
    if (hit && hit.key === key) return hit.built
    // one read transaction: a consistent snapshot even while a run is writing
    const built = db.transaction(() => Effect.runSync(reportOf(store, runId)))()
    if (cache.size > 256) cache.clear()
    cache.set(runId, { key, built })
    return built
  }

  const heartbeatAge = (runId: string): number | null => {
    const row = db.prepare(`SELECT lock_heartbeat FROM runs WHERE id = ?`).get(runId) as { lock_heartbeat: number | null } | undefined
    return row?.lock_heartbeat == null ? null : Date.now() - row.lock_heartbeat
  }

  const rowOf = (built: { report: RunReport; data: ReportData }) => runRow(built.data.run, figuresOfReport(built.report), heartbeatAge(built.data.run.id))

  const figuresOf = (run: Run): RunFigures => {
    const key = cacheKey(run)
    const hit = figuresCache.get(run.id)
    if (hit && hit.key === key) return hit.figures
    const figures = readFigures(run)
    if (figuresCache.size > 1024) figuresCache.clear()
    figuresCache.set(run.id, { key, figures })
    return figures
  }

  return {
    version,
    storeInfo: () => ({
      file,
      schemaVersion: db.pragma("user_version", { simple: true }) as number,
      supportedVersion: latestVersion,
      runs: (db.prepare(`SELECT COUNT(*) AS n FROM runs`).get() as { n: number }).n,
    }),
    // one read transaction: a consistent snapshot even while a run is writing
    runs: () => db.transaction(() => listRuns(db, 200).map((run) => runRow(run, figuresOf(run), heartbeatAge(run.id))))(),
    run: (runId) => {
      const built = load(runId)
      if (!built) return undefined
      const { data, report } = built
      const events = (
        db.prepare(`SELECT id, stage_id, kind, message, created_at FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 200`).all(runId) as Array<{
          id: number
          stage_id: number | null
          kind: string
          message: string
          created_at: string
        }>
      )
        .reverse()
        .map((e) => ({ id: e.id, stageId: e.stage_id, kind: e.kind, message: e.message, createdAt: e.created_at }))
      return {
        run: rowOf(built),
        details: {
          configFile: data.run.configFile,
          configHash: data.run.configHash,
          targetDir: data.run.targetDir,
          targetCommit: data.run.targetCommit,
          targetDirty: data.run.targetDirty,
          runDir: data.run.runDir,
        },
        stages: data.stages.map((s) => stageRow(s, data.roles[s.kind] ?? roleOf(s.kind))),
        report,
        progress: data.stages.filter((s) => data.roles[s.kind] === "inner").map((s) => progressSeries(s, data.experiments)),
        events,
      }
    },
    experiments: (runId, filter) => {
      const built = load(runId)
      if (!built) return undefined
      const { data } = built
      const stages = new Map(data.stages.map((s) => [s.id, s]))
      const scoped = filter.stageId === undefined ? data.experiments : data.experiments.filter((e) => e.stageId === filter.stageId)
      return {
        counts: statusCounts(scoped),
        stages: data.stages.map((s) => ({ id: s.id, name: s.name, arm: s.arm, role: data.roles[s.kind] ?? roleOf(s.kind) })),
        rows: filterExperiments(data.experiments, filter).map((e) => experimentRow(e, stages.get(e.stageId))),
      }
    },
    experiment: (id) => {
      const experiment = getExperiment(db, id)
      if (!experiment) return undefined
      return experimentDetail(experiment, getStage(db, experiment.stageId))
    },
    outer: (runId) => {
      const built = load(runId)
      return built?.data.outer.map(outerView)
    },
    proposal: (stageId, iteration) => {
      const proposal = listProposals(db, stageId).find((p) => p.iteration === iteration)
      if (!proposal) return undefined
      return {
        stageId,
        iteration,
        kind: proposal.kind,
        accepted: proposal.accepted,
        reason: proposal.reason,
        offline: proposal.offline,
        reflectionPrompt: proposal.reflectionPrompt,
        reflectionOutput: proposal.reflectionOutput,
        reflections: listIterationReflections(db, stageId, iteration).map((r) => ({
          component: r.component,
          prompt: r.prompt,
          output: r.output,
          offline: r.offline,
          llmCallId: r.llmCallId,
          costUsd: r.costUsd,
        })),
      }
    },
    llm: (runId) => {
      const run = getRun(db, runId)
      if (!run) return undefined
      const rows = db.prepare(`SELECT ${llmColumns} FROM llm_calls WHERE run_id = ? ORDER BY id`).all(runId) as Array<LlmRow>
      return llmView(rows.map(toLlmCallRow), run.startedAt)
    },
    llmCall: (id) => getLlmCall(db, id),
    compare: (runIds) =>
      runIds.map((runId) => {
        const built = load(runId)
        if (!built) return { runId, missing: true as const }
        const stage = primaryInnerStage(built.data)
        return { run: rowOf(built), report: built.report, progress: stage ? progressSeries(stage, built.data.experiments) : null }
      }),
  }
}
