/**
 * The runs list reads each run's figures with a few aggregate queries instead of the run's full report data,
 * and shows the report model's numbers to the bit: for real short runs (with and without the outer stage,
 * offline and with priced LLM calls), for the same runs made to look mid-run (stages running, no summaries
 * yet), and for validation scores whose mean depends on the order they are summed in.
 */
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openReadOnly } from "../../src/dashboard/openDashboard.ts"
import { makeQueries } from "../../src/dashboard/queries.ts"
import type { RunRow } from "../../src/dashboard/views.ts"
import { buildReport, loadReportData, type RunReport } from "../../src/pipeline/report/model.ts"
import { roleOf } from "../../src/pipeline/StageKind.ts"
import { makeStore } from "../../src/services/Store.ts"
import { openDatabase } from "../../src/services/store/open.ts"
import * as outer from "../../src/services/store/outer.ts"
import * as runs from "../../src/services/store/runs.ts"
import { getJson, type RealStore, realStore, type TestDashboard, testDashboard } from "./support.ts"

let store: RealStore
let dashboard: TestDashboard
let reader: Database.Database

beforeAll(async () => {
  store = await realStore([{ outer: true, metricCalls: 28, experiments: 5 }, { llm: true, outer: true, experiments: 5 }, { experiments: 4 }])
  dashboard = testDashboard(store.file)
  reader = openReadOnly(store.file)
})

afterAll(() => {
  dashboard?.close()
  reader?.close()
})

const reportOf = (db: Database.Database, file: string, runId: string): RunReport => {
  const data = Effect.runSync(loadReportData(makeStore(db, file), runId, roleOf))
  if (!data) throw new Error(`no run ${runId}`)
  return buildReport(data)
}

/** What a run row should show, read off the report. */
const fromReport = (report: RunReport) => ({
  id: report.runId,
  name: report.name,
  status: report.status,
  metric: report.inner?.metric || null,
  direction: report.inner?.direction ?? null,
  baseline: report.inner?.baseline ?? null,
  best: report.inner?.best ?? null,
  innerGain: report.inner?.gain ?? null,
  innerOffline: report.inner?.offline ?? null,
  outerSeedScore: report.outer?.seedScore ?? null,
  outerBestScore: report.outer?.bestScore ?? null,
  outerGain: report.outer?.gain ?? null,
  outerOffline: report.outer?.offline ?? null,
  experiments: report.innerStages.reduce((sum, stage) => sum + stage.experiments, 0),
  kept: report.innerStages.reduce((sum, stage) => sum + stage.kept, 0),
  llmCalls: report.llm.calls,
  costUsd: report.llm.costUsd,
})

const shown = (row: RunRow) => Object.fromEntries(Object.keys(fromReport(reportOf(reader, store.file, row.id))).map((key) => [key, row[key as keyof RunRow]]))

describe("the runs list", () => {
  it("shows each finished run's best, gains, counts and cost exactly as the report model computes them", async () => {
    const { runs: rows } = (await getJson(dashboard, "/api/runs")) as { runs: Array<RunRow> }
    expect(rows.map((r) => r.id)).toEqual([...store.runIds].reverse())
    for (const row of rows) {
      const report = reportOf(reader, store.file, row.id)
      expect(shown(row)).toEqual(fromReport(report))
      expect((await getJson(dashboard, `/api/runs/${row.id}`)).run).toEqual(row)
    }
    const [plain, withLlm, offline] = rows.map((r) => reportOf(reader, store.file, r.id))
    expect(plain!.outer).toBeNull()
    expect(offline!.outer).toMatchObject({ offline: true })
    expect(withLlm!.outer?.bestScore).not.toBeNull()
    expect(withLlm!.inner?.best).not.toBeNull()
    expect(withLlm!.llm.costUsd).toBeGreaterThan(0)
  })

  it("agrees with the report mid-run, while stages have no summary and offline is read from the rows", async () => {
    const writer = new Database(store.file)
    try {
      writer.pragma("busy_timeout = 5000")
      for (const runId of store.runIds.slice(0, 2)) {
        writer.prepare("UPDATE runs SET status = 'running', ended_at = NULL, lock_owner = 'test:1', lock_heartbeat = ? WHERE id = ?").run(Date.now(), runId)
        writer.prepare("UPDATE stages SET status = 'running', summary_json = NULL, ended_at = NULL WHERE run_id = ?").run(runId)
      }
    } finally {
      writer.close()
    }
    const { runs: rows } = (await getJson(dashboard, "/api/runs")) as { runs: Array<RunRow> }
    for (const row of rows) expect(shown(row)).toEqual(fromReport(reportOf(reader, store.file, row.id)))
    const [offlineRun, llmRun] = store.runIds.map((id) => rows.find((r) => r.id === id)!)
    expect(llmRun).toMatchObject({ status: "running", live: true, best: null, innerGain: null, innerOffline: false, outerOffline: false })
    expect(offlineRun).toMatchObject({ status: "running", innerOffline: true, outerOffline: true })
    expect(llmRun!.outerBestScore).not.toBeNull()
  })

  it("sums validation scores in the report's order, where SQLite's AVG rounds differently", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "twoloop-runs-list-")), "twoloop.db")
    const db = openDatabase(file)
    runs.insertRun(db, { id: "run-sums", name: "sums", configFile: "pipeline.config.ts", configJson: "{}", configHash: "h", arms: ["hybrid"], targetDir: "/t", targetCommit: null, targetDirty: false, runDir: "/r" })
    runs.planStages(db, "run-sums", [{ arm: "hybrid", position: 0, kind: "gepa", name: "outer" }])
    const stageId = runs.listStages(db, "run-sums")[0]!.id
    const scored = { seed: [0.3, 0.2, 0.1], child: [0.1, 0.2, 0.3], unscored: [] }
    Object.entries(scored).forEach(([hash, scores], idx) => {
      outer.insertCandidate(db, stageId, { idx, hash, components: [["instructions", hash]], parents: idx === 0 ? [] : [0], origin: idx === 0 ? "seed" : "reflection", libraryEntryId: null, iteration: idx, metricCalls: 3, offline: true })
      outer.insertEvaluations(db, stageId, scores.map((score, example) => ({ candidateHash: hash, split: "val" as const, exampleId: `s${example}`, score, output: null, trajectory: null, chargedIteration: idx })))
    })
    db.close()

    const readOnly = openReadOnly(file)
    try {
      const report = reportOf(readOnly, file, "run-sums")
      expect(report.outer).toMatchObject({ seedScore: 0.6 / 3, bestScore: (0.1 + 0.2 + 0.3) / 3 })
      expect(report.outer!.gain).toBeGreaterThan(0)
      const averaged = readOnly.prepare("SELECT AVG(score) FROM evaluations WHERE candidate_hash = 'child' AND split = 'val'").pluck().get()
      expect(averaged).not.toBe(report.outer!.bestScore)
      const [row] = makeQueries(readOnly, file).runs()
      expect(row).toMatchObject({ outerSeedScore: report.outer!.seedScore, outerBestScore: report.outer!.bestScore, outerGain: report.outer!.gain, outerOffline: true, best: null })
    } finally {
      readOnly.close()
    }
  })
})
