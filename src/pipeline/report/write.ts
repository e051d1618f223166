/** Builds a run's report and writes it (report.md, one progress SVG per inner stage) into the run directory. */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { StoreShape } from "../../services/Store.ts"
import { innerSummaryOf, roleOf } from "../StageKind.ts"
import { progressChartSvg } from "./chart.ts"
import { renderMarkdown } from "./markdown.ts"
import { buildReport, loadReportData, type ReportData, type RunReport } from "./model.ts"

export const reportOf = (store: StoreShape, runId: string): Effect.Effect<{ report: RunReport; data: ReportData } | undefined> =>
  loadReportData(store, runId, roleOf).pipe(Effect.map((data) => (data ? { report: buildReport(data), data } : undefined)))

export interface WrittenReport {
  readonly report: RunReport
  readonly markdownFile: string
  readonly charts: ReadonlyArray<string>
}

export const writeReport = (store: StoreShape, runId: string): Effect.Effect<WrittenReport | undefined> =>
  Effect.gen(function* () {
    const built = yield* reportOf(store, runId)
    if (!built) return undefined
    const { report, data } = built
    fs.mkdirSync(data.run.runDir, { recursive: true })
    const charts = new Map<number, string>()
    for (const stage of data.stages.filter((s) => data.roles[s.kind] === "inner")) {
      const rows = data.experiments.filter((e) => e.stageId === stage.id)
      const summary = innerSummaryOf(stage)
      const name = `progress-${stage.arm === "hybrid" ? "" : `${stage.arm}-`}${stage.name}.svg`
      const svg = progressChartSvg(rows, {
        metric: summary?.metric ?? "metric",
        direction: summary?.direction ?? "minimize",
        title: `${data.run.name}: ${stage.name}${stage.arm === "hybrid" ? "" : ` (${stage.arm})`} — ${rows.length} experiments`,
      })
      fs.writeFileSync(path.join(data.run.runDir, name), svg)
      charts.set(stage.id, name)
    }
    const markdownFile = path.join(data.run.runDir, "report.md")
    fs.writeFileSync(markdownFile, renderMarkdown(report, data, { charts }))
    return { report, markdownFile, charts: [...charts.values()].map((name) => path.join(data.run.runDir, name)) }
  })
