/**
 * results.tsv in autoresearch's spirit, extended: one row per finished experiment with
 * `commit  <metric>  status  seconds  direction  description`. Rewritten whole from the store after every
 * experiment, so it always matches the database.
 */
import * as fs from "node:fs"
import type { Experiment } from "../../src/domain/Experiment.ts"

const clean = (text: string | null) => (text ?? "").replace(/[\t\n\r]+/g, " ").trim()

export const renderResultsTsv = (experiments: ReadonlyArray<Experiment>, metricName: string): string => {
  const rows = experiments
    .filter((e) => e.status !== "planned" && e.status !== "running")
    .map((e) => {
      const commit = (e.resultCommit ?? e.baseCommit ?? "").slice(0, 7)
      const status = e.status === "measured" ? (e.purpose === "baseline" ? "baseline" : e.purpose) : e.status
      const description = e.purpose === "candidate" || e.purpose === "rebase" || e.purpose === "promote" ? clean(e.description) : `${e.purpose}${e.description ? `: ${clean(e.description)}` : ""}`
      return [commit, e.metric === null ? "" : e.metric.toFixed(6), status, e.seconds === null ? "" : e.seconds.toFixed(1), clean(e.direction), description].join("\t")
    })
  return [["commit", metricName, "status", "seconds", "direction", "description"].join("\t"), ...rows].join("\n") + "\n"
}

export const writeResultsTsv = (file: string, experiments: ReadonlyArray<Experiment>, metricName: string): void => {
  const temporary = `${file}.tmp`
  fs.writeFileSync(temporary, renderResultsTsv(experiments, metricName))
  fs.renameSync(temporary, file)
}
