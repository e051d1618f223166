/**
 * Renders the LLM agent's prompt from the stage's state: instructions, ranked directions, the editable
 * files, a bounded summary of recent experiments and, when fixing a crash, the log tail. Everything sent
 * to the model is truncated by lines and bytes, with a note saying so. Pure.
 */
import type { MetricDirection } from "../../src/config.ts"
import type { Edit } from "../../src/domain/Edit.ts"
import type { Direction } from "../../src/domain/Handoff.ts"
import { describeTunable, type TunableInspection } from "./tunables/index.ts"

export const truncate = (text: string, maxLines: number, maxBytes: number, keep: "head" | "tail" = "head"): string => {
  const lines = text.split("\n")
  let kept = keep === "head" ? lines.slice(0, maxLines) : lines.slice(Math.max(0, lines.length - maxLines))
  let joined = kept.join("\n")
  if (Buffer.byteLength(joined) > maxBytes) {
    const buffer = Buffer.from(joined)
    joined = keep === "head" ? buffer.subarray(0, maxBytes).toString("utf8") : buffer.subarray(buffer.length - maxBytes).toString("utf8")
    kept = joined.split("\n")
  }
  const dropped = lines.length - kept.length
  if (dropped <= 0 && joined.length === text.length) return text
  const note = `[truncated: showing ${keep === "head" ? "the first" : "the last"} ${kept.length} of ${lines.length} lines]`
  return keep === "head" ? `${joined}\n${note}` : `${note}\n${joined}`
}

export interface RecentExperiment {
  readonly seq: number
  readonly status: string
  readonly metric: number | null
  readonly improvement: number | null
  readonly description: string
  readonly direction: string | null
  readonly reason: string | null
}

export interface AgentPromptInput {
  readonly instructions: string
  readonly directions: ReadonlyArray<Direction>
  readonly metric: { readonly name: string; readonly direction: MetricDirection }
  readonly incumbent: { readonly metric: number; readonly runs: number; readonly commit: string }
  readonly noiseSigma: number
  readonly gate: number
  readonly timeBudgetSeconds: number
  readonly files: ReadonlyMap<string, string>
  readonly readonlyFiles: ReadonlyArray<string>
  /** The tunables found in the editable files, and the ones set aside (listed so the agent does not edit what cannot take effect). */
  readonly tunables?: TunableInspection
  readonly recent: ReadonlyArray<RecentExperiment>
  readonly inFlight: ReadonlyArray<string>
  readonly crash?: { readonly edit: Edit; readonly logTail: string; readonly attempt: number; readonly maxAttempts: number }
  readonly note?: string
}

const fmt = (value: number | null) => (value === null ? "-" : Number(value.toPrecision(5)).toString())

const fence = (file: string) => (file.endsWith(".py") ? "python" : /\.(m?js|ts)$/.test(file) ? "js" : "")

/** The tunables section: what can be moved, and what editing would not change (bounded). */
export const renderTunables = (inspection: TunableInspection): string => {
  const lines = ["# Tunables", ""]
  lines.push(
    inspection.tunables.length > 0
      ? `Values found in the editable files (you may change other code too):\n${inspection.tunables.slice(0, 60).map((t) => `- ${describeTunable(t)}`).join("\n")}`
      : "No tunable values were found in the editable files; change the code itself.",
  )
  const overridden = inspection.setAside.filter((s) => s.overridden)
  if (overridden.length > 0)
    lines.push("", `Do not edit these: something else sets them, so an edit cannot take effect (such an edit is rejected):\n${overridden.slice(0, 30).map((s) => `- ${s.tunable.name} (${s.tunable.file}:${s.tunable.line}): ${s.reason}`).join("\n")}`)
  return lines.join("\n")
}

export const renderAgentPrompt = (input: AgentPromptInput): string => {
  const sections: Array<string> = []
  sections.push(`# Instructions\n\n${input.instructions.trim()}`)
  if (input.directions.length > 0) {
    const lines = input.directions.map((direction, i) => {
      const evidence = direction.evidence
        ? ` (proxy evidence: ${direction.evidence.tries} tries, mean Δ ${fmt(direction.evidence.meanDelta)}, ${direction.evidence.crashes} crashes)`
        : ""
      return `${i + 1}. ${direction.text}${evidence}`
    })
    sections.push(`# Research directions\n\nWork through these first, in this order; they were ranked by measured evidence.\n\n${lines.join("\n")}`)
  }
  const better = input.metric.direction === "minimize" ? "lower" : "higher"
  sections.push(
    [
      "# Goal",
      "",
      `Metric: ${input.metric.name} (${better} is better). Incumbent: ${fmt(input.incumbent.metric)} (mean of ${input.incumbent.runs} run${input.incumbent.runs === 1 ? "" : "s"}, commit ${input.incumbent.commit.slice(0, 10)}).`,
      `Run-to-run noise σ ≈ ${fmt(input.noiseSigma)}; a single run must beat the incumbent by more than about ${fmt(input.gate)} to be kept.`,
      `Each run trains for ${input.timeBudgetSeconds} s (the harness passes TWOLOOP_TIME_BUDGET).`,
      input.readonlyFiles.length > 0 ? `Readonly harness files (never edit): ${input.readonlyFiles.join(", ")}.` : "",
    ]
      .filter((line) => line !== "")
      .join("\n"),
  )
  if (input.note) sections.push(`# Note\n\n${input.note}`)
  const files = [...input.files].map(([file, content]) => `## ${file}\n\n\`\`\`${fence(file)}\n${truncate(content, 800, 60_000)}\n\`\`\``)
  sections.push(`# Editable files\n\n${files.join("\n\n")}`)
  if (input.tunables) sections.push(renderTunables(input.tunables))
  if (input.recent.length > 0) {
    const rows = input.recent.map(
      (e) => `| ${e.seq} | ${e.status} | ${fmt(e.metric)} | ${fmt(e.improvement)} | ${(e.description || "-").replace(/\|/g, "/")} | ${(e.reason ?? "").replace(/\|/g, "/").slice(0, 120)} |`,
    )
    sections.push(`# Recent experiments (newest first)\n\n| # | status | ${input.metric.name} | Δ vs incumbent | description | note |\n|---|---|---|---|---|---|\n${rows.join("\n")}`)
  }
  if (input.inFlight.length > 0) sections.push(`# Running now (do not propose these again)\n\n${input.inFlight.map((d) => `- ${d}`).join("\n")}`)
  if (input.crash) {
    sections.push(
      [
        `# Fix attempt ${input.crash.attempt} of ${input.crash.maxAttempts}`,
        "",
        `Your previous edit "${input.crash.edit.description}" crashed. Fix it if the idea is sound; otherwise propose something else.`,
        "",
        "Log tail:",
        "```",
        truncate(input.crash.logTail, 60, 8000, "tail"),
        "```",
      ].join("\n"),
    )
  }
  sections.push(
    [
      "# Reply",
      "",
      "Reply with one edit as JSON: `direction` (the research direction, a few words), `rationale` (why it should help),",
      "`description` (a short label for the results log), and `changes`: each either",
      '`{"path", "kind": "replace", "search", "replace"}` where `search` is exact text that occurs exactly once in the file,',
      'or `{"path", "kind": "rewrite", "content"}` with the complete new file. Paths are relative to the target directory.',
    ].join("\n"),
  )
  return sections.join("\n\n")
}
