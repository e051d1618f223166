/**
 * The Markdown report written to a run's directory: the gains table (outer vs inner, per arm), each inner
 * stage with its progress chart and kept experiments, the outer candidate lineage, LLM usage, compute, and
 * the environment. Offline proposers and reflectors are labelled wherever their results appear. Pure.
 */
import type { Experiment } from "../../domain/Experiment.ts"
import { validationMeans } from "../../domain/Candidate.ts"
import { innerSummaryOf } from "../StageKind.ts"
import { type ReportData, type RunReport, transferRate } from "./model.ts"

const num = (value: number | null | undefined, digits = 5) => (value === null || value === undefined || !Number.isFinite(value) ? "–" : String(Number(value.toPrecision(digits))))
const signed = (value: number | null | undefined) => (value === null || value === undefined ? "–" : `${value >= 0 ? "+" : ""}${num(value, 4)}`)
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

export interface MarkdownOptions {
  /** File name of each inner stage's chart, by stage id. */
  readonly charts: ReadonlyMap<number, string>
}

export const renderMarkdown = (report: RunReport, data: ReportData, options: MarkdownOptions): string => {
  const out: Array<string> = []
  const run = data.run
  out.push(`# twoloop run ${report.runId} — ${report.name}`)
  out.push("")
  out.push(`Status **${report.status}**. Started ${run.startedAt}${run.endedAt ? `, ended ${run.endedAt}` : ""}. Target \`${run.targetDir}\`${run.targetCommit ? ` at \`${run.targetCommit.slice(0, 10)}\`${run.targetDirty ? " (with uncommitted changes)" : ""}` : ""}. Config \`${run.configFile}\` (hash \`${run.configHash.slice(0, 12)}\`).`)
  out.push("")
  out.push("## Gains")
  out.push("")
  out.push("| level | stage | from | to | gain | evidence | proposer |")
  out.push("|---|---|---|---|---|---|---|")
  for (const outer of report.outerStages) {
    const counts =
      outer.evaluationsRun !== null && outer.referenceMetricCalls !== null
        ? ` (budget counts ${outer.accounting === "reference" ? "gepa's metric calls" : "evaluations run"}: ${outer.evaluationsRun} evaluations run, ${outer.referenceMetricCalls} at gepa's count)`
        : ""
    out.push(`| outer (GEPA score, 0–1) | ${outer.stage} | ${num(outer.seedScore, 4)} | ${num(outer.bestScore, 4)} | ${signed(outer.gain)} | ${outer.metricCalls} metric calls${counts}, ${outer.candidates} candidates | ${outer.offline ? "offline reflector (no LLM)" : "LLM reflection"} |`)
  }
  for (const inner of report.innerStages) {
    const arm = inner.arm === "hybrid" ? "" : ` [${inner.arm}]`
    out.push(
      `| inner (${inner.metric}, ${inner.direction === "minimize" ? "lower" : "higher"} is better) | ${inner.stage}${arm} | ${num(inner.baseline)} | ${num(inner.best)} | ${signed(inner.gain)} | ${inner.kept} kept of ${inner.experiments} experiments, noise σ ${num(inner.noiseSigma, 3)} | ${inner.offline ? "offline proposer (no LLM)" : "LLM agent"} |`,
    )
  }
  out.push("")
  out.push("Inner gains are noise-gated: an edit is kept only when its improvement over the incumbent exceeds `max(minDelta, noiseK · σ · √(1/n + 1/k))` (σ pooled over repeated runs). The gain is the improvement of the final incumbent's mean over the baseline mean at the same budget.")
  const armNames = Object.keys(report.arms)
  if (armNames.length > 1) {
    out.push("")
    out.push("### Arms")
    out.push("")
    out.push("| arm | best | gain | experiments to best |")
    out.push("|---|---|---|---|")
    for (const arm of armNames) out.push(`| ${arm} | ${num(report.arms[arm]!.best)} | ${signed(report.arms[arm]!.gain)} | ${report.arms[arm]!.experimentsToBest ?? "–"} |`)
    out.push("")
    out.push("The inner-only arm runs the same inner stages with the seed instructions and no directions, the same budget and seeds, so the difference measures what the outer stage contributed.")
  }

  for (const stage of data.stages.filter((s) => data.roles[s.kind] === "inner")) {
    const rows = data.experiments.filter((e) => e.stageId === stage.id)
    const inner = report.innerStages.find((r) => r.stage === stage.name && r.arm === stage.arm)
    out.push("")
    out.push(`## Inner stage ${stage.name}${stage.arm === "hybrid" ? "" : ` (arm ${stage.arm})`}`)
    out.push("")
    const summary = innerSummaryOf(stage)
    out.push(`${stage.status}; ${rows.length} experiments: ${inner?.kept ?? 0} kept, ${inner?.discarded ?? 0} discarded, ${inner?.crashed ?? 0} crashed, ${inner?.timedOut ?? 0} timed out, ${inner?.rejected ?? 0} rejected. ${summary?.timeBudgetSeconds ? `${summary.timeBudgetSeconds} s per run. ` : ""}Proposer: ${inner?.offline ? "offline (no LLM)" : (summary?.proposer ?? "LLM")}. Best commit \`${(summary?.bestCommit ?? "–").slice(0, 10)}\`${summary && summary.branches.length > 0 ? ` on branch \`${summary.branches[0]}\`` : ""}.`)
    if (inner && inner.transfers.length > 0) {
      const rate = transferRate(inner.transfers)
      const run = inner.transfers.filter((t) => t.outcome !== "not run")
      out.push("", `Handed-over edits: the outer stage measured these at its proxy budget; the strongest were re-validated here through the keep gate. Transfer rate ${rate === null ? "– (none re-validated)" : `${run.filter((t) => t.outcome === "held").length} of ${run.length} held`}.`, "")
      out.push("| edit | proxy Δ | at | here: improvement | transfer |", "|---|---|---|---|---|")
      for (const t of inner.transfers.slice(0, 12)) out.push(`| ${cell(t.description)} | ${t.proxyDelta === null ? "crashed" : `${t.proxyDelta >= 0 ? "+" : ""}${(t.proxyDelta * 100).toFixed(2)} %`} | ${t.proxyBudgetSeconds} s | ${signed(t.improvement)} | ${t.outcome} |`)
      if (inner.transfers.length > 12) out.push(`| … ${inner.transfers.length - 12} more, all not run | | | | |`)
    }
    if (inner?.drift && inner.drift.remeasures > 0)
      out.push("", `Incumbent drift: the incumbent was re-measured ${inner.drift.remeasures} time${inner.drift.remeasures === 1 ? "" : "s"} before decisions (its newest run had grown stale); the largest change against its earlier runs was ${signed(inner.drift.largest)} ${inner.metric}. Candidates were judged against its recent runs.`)
    const chart = options.charts.get(stage.id)
    if (chart) out.push("", `![progress of ${stage.name}](${chart})`)
    const kept = rows.filter((e) => e.status === "keep")
    if (kept.length > 0) {
      out.push("", "| # | kept edit | direction | metric | improvement | gate | runs |", "|---|---|---|---|---|---|---|")
      for (const e of kept) out.push(`| ${e.seq} | ${cell(e.description ?? "")} | ${cell(e.direction ?? "")} | ${num(e.judgement?.candidateMean ?? e.metric)} | ${signed(e.judgement?.improvement)} | ${num(e.judgement?.gate, 3)} | ${e.judgement?.runs ?? 1} |`)
    }
    const failures = rows.filter((e) => ["crash", "timeout", "rejected"].includes(e.status)).slice(0, 10)
    if (failures.length > 0) {
      out.push("", "Failures (first 10):", "")
      for (const e of failures) out.push(`- #${e.seq} ${e.status} ${cell(e.description ?? "")}: ${cell(e.reason ?? "")}`)
    }
  }

  for (const outer of data.outer) {
    const means = validationMeans(outer.evaluations)
    out.push("", `## Outer stage ${outer.stage.name}: candidate lineage`, "")
    out.push("| candidate | origin | parents | val score | found at metric call | offline |", "|---|---|---|---|---|---|")
    for (const c of outer.candidates) out.push(`| ${c.idx} | ${c.origin}${c.libraryEntryId ? ` (${c.libraryEntryId.slice(0, 8)})` : ""} | ${c.parents.join(", ") || "–"} | ${num(means.get(c.hash) ?? null, 4)} | ${c.metricCalls} | ${c.offline ? "yes" : "no"} |`)
    const accepted = outer.proposals.filter((p) => p.accepted).length
    out.push("", `${outer.proposals.length} iterations, ${accepted} proposals accepted.`)
    const outerReport = report.outerStages.find((r) => r.stage === outer.stage.name)
    if (outerReport && outerReport.libraryWon !== null)
      out.push("", outerReport.libraryWon ? "A prompt-library seed won: the best candidate is one, or descends from one." : "Prompt-library seeds joined but did not win: the best candidate does not descend from them.")
  }

  out.push("", "## LLM and compute", "")
  out.push(`- LLM: ${report.llm.calls} calls, ${report.llm.inputTokens} input and ${report.llm.outputTokens} output tokens, cost ${report.llm.costUsd === null ? "unknown (a model without a price was used)" : `$${report.llm.costUsd.toFixed(4)}`}.`)
  out.push(`- Compute: ${num(report.compute.experimentSeconds, 4)} s of experiments in ${num(report.compute.wallSeconds, 4)} s of wall time (slot duty cycle ${report.compute.dutyCycle === null ? "–" : `${(report.compute.dutyCycle * 100).toFixed(1)} %`}).`)
  const env = data.experiments.find((e: Experiment) => e.env !== null)?.env
  if (env) out.push(`- Environment: ${env.cpu} (${env.cpus} CPUs, ${env.memoryGb} GB), ${env.os}, node ${env.node}${env.python ? `, python ${env.python}` : ""}${env.torch ? `, torch ${env.torch}` : ""}${env.gpus.length > 0 ? `, GPUs: ${env.gpus.map((g) => `${g.name} (driver ${g.driver})`).join(", ")}` : ", no GPU"}.`)
  out.push("", `Reproduce: \`twoloop run --config ${run.configFile}\`; inspect: \`twoloop status ${run.id}\`.`, "")
  return out.join("\n")
}
