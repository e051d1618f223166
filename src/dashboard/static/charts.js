// The dashboard's charts, on Chart.js (served from the package as /vendor/chart.umd.min.js). Each builder
// takes a <canvas> and the API's data and returns { update(data) } so live refreshes redraw in place.
// Every canvas gets data-points: the number of plotted data points (what a test or a script can check).
import { diffView, h, num, replace, signed } from "./dom.js"

const Chart = window.Chart
Chart.defaults.animation = false
Chart.defaults.font.family = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
Chart.defaults.font.size = 12
Chart.defaults.maintainAspectRatio = false

export const colors = {
  kept: "#2e9d4f",
  keptBorder: "#1b6b33",
  discarded: "#b5b5b5",
  baseline: "#333333",
  failed: "#d33333",
  best: "#2e9d4f",
  outer: "#3b6fd1",
  palette: ["#2e9d4f", "#3b6fd1", "#d9822b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"],
}

const originColors = { seed: "#333333", reflection: "#3b6fd1", merge: "#8e44ad", library: "#d9822b" }

// ---------------------------------------------------------------------------------------------------------
// An HTML tooltip shared by all charts (Chart.js's canvas tooltip cannot show a diff).

let tooltipElement = null
const tooltip = () => {
  if (!tooltipElement) {
    tooltipElement = h("div", { class: "chart-tooltip", role: "tooltip" })
    document.body.append(tooltipElement)
  }
  return tooltipElement
}

const externalTooltip = (render) => (context) => {
  const element = tooltip()
  const model = context.tooltip
  const items = (model.dataPoints ?? []).filter((item) => item.raw && item.raw.detail !== undefined)
  if (model.opacity === 0 || items.length === 0) {
    element.classList.remove("visible")
    return
  }
  replace(element, render(items[0].raw.detail, items[0]))
  const box = context.chart.canvas.getBoundingClientRect()
  const left = box.left + window.scrollX + model.caretX + 14
  const maxLeft = window.scrollX + document.documentElement.clientWidth - element.offsetWidth - 8
  element.style.left = `${Math.max(window.scrollX + 4, Math.min(left, maxLeft))}px`
  element.style.top = `${box.top + window.scrollY + model.caretY + 14}px`
  element.classList.add("visible")
}

export const hideTooltip = () => tooltipElement?.classList.remove("visible")

const countPoints = (chart) =>
  chart.data.datasets.reduce((sum, dataset, index) => (dataset.countPoints === false ? sum : sum + chart.getDatasetMeta(index).data.length), 0)

const mount = (canvas, config) => {
  const chart = new Chart(canvas, config)
  canvas.dataset.points = String(countPoints(chart))
  return chart
}

const redraw = (chart, canvas, { datasets, labels, scales }) => {
  chart.data.datasets = datasets
  if (labels) chart.data.labels = labels
  if (scales) Object.assign(chart.options.scales, scales)
  chart.update()
  canvas.dataset.points = String(countPoints(chart))
}

const legendFilter = (item, data) => !data.datasets[item.datasetIndex].hideInLegend

/**
 * The charts of a page by key: `draw` creates a chart in `parent` the first time (the canvas gets
 * data-chart=<key before ":"> and data-key=<key>) and updates it in place afterwards.
 */
export const chartSlots = () => {
  const slots = new Map()
  const remove = (key) => {
    slots.get(key)?.handle.chart.destroy()
    slots.delete(key)
  }
  return {
    draw: (parent, key, create, data) => {
      const existing = slots.get(key)
      if (existing && existing.canvas.isConnected && parent.contains(existing.canvas)) {
        existing.handle.update(data)
        return
      }
      remove(key)
      const canvas = h("canvas", { dataset: { chart: key.split(":")[0], key } })
      parent.append(h("div", { class: "chart" }, canvas))
      slots.set(key, { canvas, handle: create(canvas, data) })
    },
    remove,
    removeAll: (prefix) => {
      for (const key of [...slots.keys()]) if (key.startsWith(prefix)) remove(key)
    },
    destroy: () => {
      for (const key of [...slots.keys()]) remove(key)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------
// Progress of an inner stage: discarded grey, kept green, baselines dark, the running best as a staircase,
// runs without a metric as red crosses along the bottom. Hover: description, rationale, numbers, diff.

const experimentTooltip = (point) =>
  h(
    "div",
    {},
    h("div", { class: "tip-title" }, `#${point.seq} ${point.status}${point.purpose !== "candidate" ? ` (${point.purpose})` : ""}${point.metric !== null ? ` — ${num(point.metric)}` : ""}`),
    point.description ? h("div", { class: "tip-line" }, point.description) : null,
    point.direction ? h("div", { class: "tip-line muted" }, `direction: ${point.direction}`) : null,
    point.rationale ? h("div", { class: "tip-line" }, h("b", {}, "rationale: "), point.rationale) : null,
    point.improvement !== null ? h("div", { class: "tip-line" }, `improvement ${signed(point.improvement)} vs gate ${num(point.gate, 3)} over ${point.runs ?? 1} run(s)`) : null,
    point.reason && point.improvement === null ? h("div", { class: "tip-line muted" }, point.reason) : null,
    point.diff ? diffView(point.diff.split("\n").slice(0, 40).join("\n"), point.diffTruncated || point.diff.split("\n").length > 40) : null,
  )

const progressDatasets = (series) => {
  const measured = series.points.filter((p) => p.metric !== null)
  const asPoint = (p) => ({ x: p.seq, y: p.metric, detail: p })
  const failed = series.points.filter((p) => p.metric === null).map((p) => ({ x: p.seq, y: 0.04, detail: p }))
  return [
    { label: "running best", type: "line", data: series.best.map((p) => ({ x: p.x, y: p.y })), stepped: "after", borderColor: colors.best, borderWidth: 2, pointRadius: 0, pointHitRadius: 0, fill: false, order: 5, countPoints: false },
    { label: "discarded", data: measured.filter((p) => p.status !== "keep" && p.purpose !== "baseline").map(asPoint), backgroundColor: colors.discarded, borderColor: colors.discarded, pointRadius: 4, pointHoverRadius: 6, order: 3 },
    { label: "kept", data: measured.filter((p) => p.status === "keep").map(asPoint), backgroundColor: colors.kept, borderColor: colors.keptBorder, pointRadius: 6, pointHoverRadius: 8, order: 1 },
    { label: "baseline", data: measured.filter((p) => p.purpose === "baseline").map(asPoint), backgroundColor: colors.baseline, borderColor: colors.baseline, pointRadius: 4, pointHoverRadius: 6, order: 2 },
    { label: "no metric", data: failed, yAxisID: "yFail", pointStyle: "crossRot", borderColor: colors.failed, backgroundColor: colors.failed, pointRadius: 6, borderWidth: 2, order: 4 },
  ]
}

export const progressChart = (canvas, series, { onSelect } = {}) => {
  const scales = (s) => ({
    x: { type: "linear", title: { display: true, text: "experiment #" }, ticks: { precision: 0 } },
    y: { title: { display: true, text: `${s.metric} (${s.direction === "minimize" ? "lower" : "higher"} is better)` } },
    yFail: { type: "linear", min: 0, max: 1, display: false },
  })
  const chart = mount(canvas, {
    type: "scatter",
    data: { datasets: progressDatasets(series) },
    options: {
      scales: scales(series),
      interaction: { mode: "nearest", intersect: true },
      plugins: { legend: { labels: { usePointStyle: true } }, tooltip: { enabled: false, external: externalTooltip(experimentTooltip) } },
      onClick: (_event, elements, target) => {
        const element = elements[0]
        const raw = element && target.data.datasets[element.datasetIndex].data[element.index]
        if (raw?.detail && onSelect) onSelect(raw.detail.id)
      },
    },
  })
  return { chart, update: (next) => redraw(chart, canvas, { datasets: progressDatasets(next), scales: scales(next) }) }
}

/** Running-best staircases of several series on one chart (arms of a run, or runs side by side). */
export const staircaseChart = (canvas, lines, { metric, direction } = {}) => {
  const datasets = (all) =>
    all.map((line, index) => ({
      label: line.label,
      type: "line",
      data: line.best.map((p) => ({ x: p.x, y: p.y, detail: { label: line.label, x: p.x, y: p.y } })),
      stepped: "after",
      borderColor: colors.palette[index % colors.palette.length],
      backgroundColor: colors.palette[index % colors.palette.length],
      borderWidth: 2,
      pointRadius: 3,
      fill: false,
    }))
  const title = metric ? `${metric}${direction ? ` (${direction === "minimize" ? "lower" : "higher"} is better)` : ""}` : "metric"
  const chart = mount(canvas, {
    type: "scatter",
    data: { datasets: datasets(lines) },
    options: {
      scales: { x: { type: "linear", title: { display: true, text: "experiment #" }, ticks: { precision: 0 } }, y: { title: { display: true, text: `running best ${title}` } } },
      plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${num(item.raw.y)} at #${item.raw.x}` } } },
    },
  })
  return { chart, update: (next) => redraw(chart, canvas, { datasets: datasets(next) }) }
}

// ---------------------------------------------------------------------------------------------------------
// Gains: inner (metric, per stage and arm) and outer (GEPA score) side by side, each on its own axis.

export const gainsChart = (canvas, report) => {
  const build = (r) => {
    const inner = r.innerStages.map((s) => ({ label: `${s.stage}${s.arm === "hybrid" ? "" : ` [${s.arm}]`}`, gain: s.gain }))
    const outer = r.outerStages.map((s) => ({ label: `${s.stage} (outer)`, gain: s.gain }))
    const labels = [...outer.map((o) => o.label), ...inner.map((i) => i.label)]
    return {
      labels,
      datasets: [
        { label: "outer gain (GEPA score)", data: [...outer.map((o) => o.gain), ...inner.map(() => null)], backgroundColor: colors.outer, yAxisID: "yOuter" },
        { label: `inner gain (${r.inner?.metric || "metric"})`, data: [...outer.map(() => null), ...inner.map((i) => i.gain)], backgroundColor: colors.kept, yAxisID: "y" },
      ],
    }
  }
  const initial = build(report)
  const chart = mount(canvas, {
    type: "bar",
    data: initial,
    options: {
      datasets: { bar: { skipNull: true } },
      scales: {
        y: { position: "left", title: { display: true, text: "inner gain" }, beginAtZero: true },
        yOuter: { position: "right", title: { display: true, text: "outer gain" }, beginAtZero: true, grid: { drawOnChartArea: false } },
      },
      plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${signed(item.raw)}` } } },
    },
  })
  return { chart, update: (next) => redraw(chart, canvas, build(next)) }
}

// ---------------------------------------------------------------------------------------------------------
// Outer stage: the candidate lineage (x: iteration found, y: validation score, edges to parents) and the
// Pareto front over iterations.

const candidateTooltip = (c) =>
  h(
    "div",
    {},
    h("div", { class: "tip-title" }, `candidate ${c.idx} (${c.origin}${c.offline ? ", offline" : ""})${c.best ? " — best" : ""}`),
    h("div", { class: "tip-line" }, `score ${num(c.valScore ?? c.trainScore, 4)}; parents ${c.parents.join(", ") || "–"}; found at iteration ${c.iteration} (${c.metricCalls} metric calls)`),
    c.onFront ? h("div", { class: "tip-line" }, "on the Pareto front") : null,
    ...c.components.map(([name, text]) => h("div", { class: "tip-line" }, h("b", {}, `${name}: `), text.length > 400 ? `${text.slice(0, 400)}…` : text)),
  )

const lineageDatasets = (stage) => {
  const score = (c) => c.valScore ?? c.trainScore ?? 0
  const byIdx = new Map(stage.candidates.map((c) => [c.idx, c]))
  const edges = stage.candidates.flatMap((child) =>
    child.parents
      .map((p) => byIdx.get(p))
      .filter(Boolean)
      .map((parent) => ({
        label: `${parent.idx} → ${child.idx}`,
        type: "line",
        data: [
          { x: parent.iteration, y: score(parent) },
          { x: child.iteration, y: score(child) },
        ],
        borderColor: child.origin === "merge" ? originColors.merge : "#9aa5b1",
        borderWidth: 1.5,
        pointRadius: 0,
        pointHitRadius: 0,
        hideInLegend: true,
        countPoints: false,
      })),
  )
  const origins = [...new Set(stage.candidates.map((c) => c.origin))]
  const nodes = origins.map((origin) => {
    const members = stage.candidates.filter((c) => c.origin === origin)
    return {
      label: origin,
      data: members.map((c) => ({ x: c.iteration, y: score(c), detail: c })),
      backgroundColor: members.map((c) => (c.best ? colors.kept : originColors[origin] ?? "#555")),
      borderColor: members.map((c) => (c.onFront ? "#f1c40f" : "#ffffff")),
      borderWidth: members.map((c) => (c.onFront ? 3 : 1)),
      pointRadius: members.map((c) => (c.best ? 9 : 6)),
      pointHoverRadius: 10,
    }
  })
  return [...edges, ...nodes]
}

export const lineageChart = (canvas, stage, { onSelect } = {}) => {
  const chart = mount(canvas, {
    type: "scatter",
    data: { datasets: lineageDatasets(stage) },
    options: {
      scales: {
        x: { type: "linear", title: { display: true, text: "iteration found" }, ticks: { precision: 0 } },
        y: { title: { display: true, text: `${stage.matrix.split === "val" ? "validation" : "train"} score (mean over scenarios)` } },
      },
      interaction: { mode: "nearest", intersect: true },
      plugins: { legend: { labels: { filter: legendFilter } }, tooltip: { enabled: false, external: externalTooltip(candidateTooltip) } },
      onClick: (_event, elements, target) => {
        const element = elements[0]
        const raw = element && target.data.datasets[element.datasetIndex].data[element.index]
        if (raw?.detail && onSelect) onSelect(raw.detail.idx)
      },
    },
  })
  return { chart, update: (next) => redraw(chart, canvas, { datasets: lineageDatasets(next) }) }
}

export const paretoChart = (canvas, stage) => {
  const build = (s) => ({
    labels: s.pareto.map((p) => String(p.iteration)),
    datasets: [
      { type: "line", label: "best candidate score", data: s.pareto.map((p) => p.bestScore), borderColor: colors.kept, backgroundColor: colors.kept, pointRadius: 3, yAxisID: "y" },
      { type: "line", label: "front coverage (mean per-scenario best)", data: s.pareto.map((p) => p.frontScore), borderColor: colors.outer, backgroundColor: colors.outer, borderDash: [6, 4], pointRadius: 3, yAxisID: "y" },
      { type: "bar", label: "candidates on the front", data: s.pareto.map((p) => p.front.length), backgroundColor: "rgba(241, 196, 15, 0.45)", yAxisID: "yFront" },
    ],
  })
  const chart = mount(canvas, {
    type: "bar",
    data: build(stage),
    options: {
      scales: {
        x: { title: { display: true, text: "iteration" } },
        y: { position: "left", beginAtZero: false, grace: "5%", title: { display: true, text: "score" } },
        yFront: { position: "right", beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "front size" }, grid: { drawOnChartArea: false } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            afterBody: (items) => {
              const step = stage.pareto[items[0]?.dataIndex ?? -1]
              return step ? [`front: ${step.front.join(", ")}`, `${step.candidates} candidates so far`] : []
            },
          },
        },
      },
    },
  })
  return {
    chart,
    update: (next) => {
      stage = next
      redraw(chart, canvas, build(next))
    },
  }
}

// ---------------------------------------------------------------------------------------------------------
// LLM calls over time: cumulative cost (stepped line) and each call's latency, by purpose.

const callTooltip = (call) =>
  h(
    "div",
    {},
    h("div", { class: "tip-title" }, `#${call.id} ${call.purpose}${call.cached ? " (cached)" : ""}${call.error ? " — failed" : ""}`),
    h("div", { class: "tip-line" }, `${call.model}; ${call.inputTokens ?? "?"} in / ${call.outputTokens ?? "?"} out tokens; ${call.costUsd === null ? "no price" : `$${call.costUsd.toFixed(5)}`}; ${(call.latencyMs / 1000).toFixed(2)} s`),
    call.error ? h("div", { class: "tip-line" }, call.error) : null,
    h("div", { class: "tip-line muted" }, `at ${call.seconds.toFixed(1)} s into the run; cumulative cost $${call.cumulativeCostUsd.toFixed(5)}`),
  )

const llmDatasets = (llm) => {
  const purposes = [...new Set(llm.calls.map((c) => c.purpose))]
  return [
    {
      label: `cumulative cost ($)${llm.costKnown ? "" : " — lower bound: some models have no price"}`,
      type: "line",
      data: llm.calls.map((c) => ({ x: c.seconds, y: c.cumulativeCostUsd, detail: c })),
      stepped: "after",
      borderColor: colors.kept,
      backgroundColor: colors.kept,
      pointRadius: 0,
      pointHitRadius: 4,
      yAxisID: "y",
      countPoints: false,
    },
    ...purposes.map((purpose, index) => ({
      label: `${purpose} latency (s)`,
      data: llm.calls.filter((c) => c.purpose === purpose).map((c) => ({ x: c.seconds, y: c.latencyMs / 1000, detail: c })),
      backgroundColor: colors.palette[(index + 1) % colors.palette.length],
      borderColor: colors.palette[(index + 1) % colors.palette.length],
      pointStyle: llm.calls.some((c) => c.purpose === purpose && c.error) ? "triangle" : "circle",
      pointRadius: 4,
      yAxisID: "yLatency",
    })),
  ]
}

export const llmChart = (canvas, llm) => {
  const chart = mount(canvas, {
    type: "scatter",
    data: { datasets: llmDatasets(llm) },
    options: {
      scales: {
        x: { type: "linear", title: { display: true, text: "seconds since the run started" } },
        y: { position: "left", beginAtZero: true, title: { display: true, text: "cumulative cost ($)" } },
        yLatency: { position: "right", beginAtZero: true, title: { display: true, text: "latency (s)" }, grid: { drawOnChartArea: false } },
      },
      interaction: { mode: "nearest", intersect: true },
      plugins: { tooltip: { enabled: false, external: externalTooltip(callTooltip) } },
    },
  })
  return { chart, update: (next) => redraw(chart, canvas, { datasets: llmDatasets(next) }) }
}
