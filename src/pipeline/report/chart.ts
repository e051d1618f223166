/**
 * The progress chart of an inner stage as a standalone SVG, in autoresearch's style: every measured
 * experiment a point (discarded grey, kept green, baselines dark), the running best as a staircase, kept
 * points labelled with their description, runs without a metric (crash, timeout, rejected) as red marks
 * along the bottom. Pure string building, so the report needs no browser.
 */
import type { Experiment } from "../../domain/Experiment.ts"

export interface ChartOptions {
  readonly metric: string
  readonly direction: "minimize" | "maximize"
  readonly title: string
  readonly width?: number
  readonly height?: number
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const niceStep = (span: number, ticks: number) => {
  const raw = span / Math.max(1, ticks)
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const residual = raw / magnitude
  return (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude
}

const formatTick = (value: number, step: number) => {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)))
  return value.toFixed(Math.min(6, decimals))
}

const shown = new Set(["candidate", "rebase", "promote", "baseline"])

export const progressChartSvg = (experiments: ReadonlyArray<Experiment>, options: ChartOptions): string => {
  const width = options.width ?? 960
  const height = options.height ?? 440
  const margin = { left: 70, right: 24, top: 40, bottom: 54 }
  const plotWidth = width - margin.left - margin.right
  const plotHeight = height - margin.top - margin.bottom
  const rows = experiments.filter((e) => shown.has(e.purpose) && e.status !== "planned" && e.status !== "running")
  const measured = rows.filter((e) => e.metric !== null && Number.isFinite(e.metric))
  const parts: Array<string> = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`)
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  parts.push(`<text x="${margin.left}" y="22" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`)
  if (measured.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#666">no measured experiments yet</text></svg>`)
    return parts.join("\n")
  }
  const values = measured.map((e) => e.metric!)
  let low = Math.min(...values)
  let high = Math.max(...values)
  if (low === high) {
    low -= Math.abs(low) * 0.01 || 0.5
    high += Math.abs(high) * 0.01 || 0.5
  }
  const pad = (high - low) * 0.08
  low -= pad
  high += pad
  const step = niceStep(high - low, 6)
  const xOf = (index: number) => margin.left + (rows.length <= 1 ? plotWidth / 2 : (index / (rows.length - 1)) * plotWidth)
  const yOf = (value: number) => margin.top + ((high - value) / (high - low)) * plotHeight

  // axes and grid
  for (let tick = Math.ceil(low / step) * step; tick <= high; tick += step) {
    const y = yOf(tick)
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${margin.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#555">${formatTick(tick, step)}</text>`)
  }
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#999"/>`)
  parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}" stroke="#999"/>`)
  parts.push(`<text x="${margin.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle" fill="#333">experiment #</text>`)
  parts.push(`<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.metric)} (${options.direction === "minimize" ? "lower" : "higher"} is better)</text>`)
  const xStep = Math.max(1, Math.ceil(rows.length / 12))
  rows.forEach((row, index) => {
    if (index % xStep !== 0 && index !== rows.length - 1) return
    parts.push(`<text x="${xOf(index).toFixed(1)}" y="${margin.top + plotHeight + 16}" text-anchor="middle" fill="#555">${row.seq}</text>`)
  })

  // running-best staircase: starts at the baseline mean, moves at each kept experiment
  const baselines = rows.filter((e) => e.purpose === "baseline" && e.metric !== null).map((e) => e.metric!)
  let best = baselines.length > 0 ? baselines.reduce((s, v) => s + v, 0) / baselines.length : null
  const stairs: Array<string> = []
  rows.forEach((row, index) => {
    if (row.status === "keep" && row.metric !== null) {
      const runs = row.judgement?.candidateMean ?? row.metric
      if (best !== null) stairs.push(`L${xOf(index).toFixed(1)},${yOf(best).toFixed(1)}`)
      best = runs
      stairs.push(`L${xOf(index).toFixed(1)},${yOf(best).toFixed(1)}`)
    }
  })
  if (best !== null) {
    const firstX = xOf(0)
    const start = baselines.length > 0 ? baselines.reduce((s, v) => s + v, 0) / baselines.length : best
    stairs.unshift(`M${firstX.toFixed(1)},${yOf(start).toFixed(1)}`)
    stairs.push(`L${xOf(rows.length - 1).toFixed(1)},${yOf(best).toFixed(1)}`)
    parts.push(`<path d="${stairs.join(" ")}" fill="none" stroke="#2e9d4f" stroke-width="2" opacity="0.8"/>`)
  }

  // points
  rows.forEach((row, index) => {
    const x = xOf(index).toFixed(1)
    if (row.metric === null || !Number.isFinite(row.metric)) {
      parts.push(`<text x="${x}" y="${margin.top + plotHeight - 4}" text-anchor="middle" fill="#d33" font-size="12"><title>#${row.seq} ${escapeXml(row.status)}: ${escapeXml(row.reason ?? "")}</title>×</text>`)
      return
    }
    const y = yOf(row.metric).toFixed(1)
    const title = `<title>#${row.seq} ${escapeXml(row.status)} ${escapeXml(row.description ?? "")}: ${row.metric}</title>`
    if (row.purpose === "baseline") parts.push(`<circle cx="${x}" cy="${y}" r="4" fill="#333">${title}</circle>`)
    else if (row.status === "keep") {
      parts.push(`<circle cx="${x}" cy="${y}" r="5.5" fill="#2e9d4f" stroke="#1b6b33">${title}</circle>`)
      const label = escapeXml((row.description ?? "").slice(0, 40))
      parts.push(`<text x="${x}" y="${(Number(y) - 9).toFixed(1)}" transform="rotate(-28 ${x} ${(Number(y) - 9).toFixed(1)})" fill="#1b6b33" font-size="10">${label}</text>`)
    } else parts.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="#b5b5b5">${title}</circle>`)
  })

  // legend
  const legendY = margin.top - 14
  const legend = [
    ["#333", "baseline"],
    ["#2e9d4f", "kept"],
    ["#b5b5b5", "discarded"],
  ] as const
  legend.forEach(([color, label], i) => {
    const x = width - margin.right - 340 + i * 80
    parts.push(`<circle cx="${x}" cy="${legendY}" r="4" fill="${color}"/><text x="${x + 8}" y="${legendY + 4}" fill="#333">${label}</text>`)
  })
  parts.push(`<text x="${width - margin.right - 96}" y="${legendY + 4}" fill="#d33">× no metric</text>`)
  parts.push("</svg>")
  return parts.join("\n")
}
