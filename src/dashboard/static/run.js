// One run: progress charts of the inner stages, outer vs inner gains, the experiments table (status filter,
// diff, log tail), the outer stage (outer.js), LLM calls and cost (llm.js), and the event log. Refreshed in
// place when the store changes.
import { getJson } from "./api.js"
import { chartSlots, gainsChart, progressChart, staircaseChart } from "./charts.js"
import { badge, clock, dateTime, diffView, elapsed, h, money, num, percent, pre, replace, seconds, section, signed, table } from "./dom.js"
import { llmSection } from "./llm.js"
import { outerSection } from "./outer.js"

const statusOrder = ["keep", "discard", "crash", "timeout", "rejected", "measured", "running", "planned"]

const card = (label, value, note) => h("div", { class: "card" }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value), note ? h("div", { class: "card-note" }, note) : null)

export const runPage = (container, runId) => {
  const state = { status: "", stage: "", experiment: null }
  const charts = chartSlots()
  const drawChart = charts.draw
  const outer = outerSection(charts)
  const llm = llmSection(charts)
  const encoded = encodeURIComponent(runId)

  const header = h("div", { class: "run-header" })
  const cards = h("div", { class: "cards" })
  const nav = h(
    "nav",
    { class: "page-nav" },
    ["progress", "gains", "experiments", "outer", "llm", "events"].map((id) => h("a", { href: `#/run/${encoded}`, onclick: (event) => (event.preventDefault(), document.getElementById(id)?.scrollIntoView()) }, id)),
  )
  const progressBody = h("div", { class: "chart-grid" })
  const gainsBody = h("div", {})
  const filterBar = h("div", { class: "toolbar" })
  const experimentsBody = h("div", { class: "table-scroll" })
  const experimentDetail = h("div", { class: "detail", id: "experiment-detail" })
  const eventsBody = h("div", {})

  container.append(
    header,
    cards,
    nav,
    section("progress", "Progress", h("p", { class: "muted" }, "Each point is an experiment: kept green, discarded grey, baselines dark, runs without a metric as red crosses; the line is the running best. Hover for the description, rationale and diff; click for the whole experiment."), progressBody),
    section("gains", "Outer vs inner gains", gainsBody),
    section("experiments", "Experiments", filterBar, experimentsBody, experimentDetail),
    section("outer", "Outer stage", outer.element),
    section("llm", "LLM calls and cost", llm.element),
    section("events", "Events", eventsBody),
  )

  // ---------------------------------------------------------------------------------------------------------

  const renderHeader = (page) => {
    const { run, details, report } = page
    replace(
      header,
      h("h1", {}, `${run.name} `, h("span", { class: "run-id" }, run.id), " ", badge(run.status), run.live ? h("span", { class: "badge live-badge" }, "live") : null),
      h(
        "p",
        { class: "muted" },
        `started ${dateTime(run.startedAt)}, ${run.endedAt ? `took ${elapsed(run.startedAt, run.endedAt)}` : `running for ${elapsed(run.startedAt, null)}`}; target ${details.targetDir}`,
        details.targetCommit ? ` @ ${details.targetCommit.slice(0, 10)}${details.targetDirty ? " (with uncommitted changes)" : ""}` : "",
        `; config ${details.configFile}; run directory ${details.runDir}`,
      ),
      run.error ? h("p", { class: "error" }, run.error) : null,
    )
    replace(
      cards,
      card("inner", run.metric ? `${num(run.baseline)} → ${num(run.best)}` : "–", run.metric ? `${run.metric}, gain ${signed(run.innerGain)}${run.innerOffline ? " (offline proposer)" : ""}` : "no inner stage yet"),
      card("outer", report.outer ? `${num(report.outer.seedScore, 4)} → ${num(report.outer.bestScore, 4)}` : "–", report.outer ? `GEPA score, gain ${signed(report.outer.gain)}${report.outer.offline ? " (offline reflector)" : ""}` : "no outer stage"),
      card("experiments", `${run.kept} kept / ${run.experiments}`, "inner stages"),
      card("LLM", money(report.llm.costUsd), `${report.llm.calls} calls, ${report.llm.inputTokens} in / ${report.llm.outputTokens} out tokens`),
      card("compute", seconds(report.compute.experimentSeconds), `experiments in ${seconds(report.compute.wallSeconds)} wall, duty ${percent(report.compute.dutyCycle)}`),
    )
  }

  const renderProgress = (page) => {
    if (page.progress.length === 0) {
      replace(progressBody, h("p", { class: "muted" }, "no inner stage has run yet"))
      charts.removeAll("progress:")
      return
    }
    if (progressBody.querySelector("p.muted")) replace(progressBody)
    for (const series of page.progress) {
      const key = `progress:${series.stageId}`
      let box = progressBody.querySelector(`[data-stage="${series.stageId}"]`)
      if (!box) {
        box = h("div", { class: "chart-box", dataset: { stage: String(series.stageId) } }, h("h3", {}), h("div", { class: "chart-host" }))
        progressBody.append(box)
      }
      box.querySelector("h3").textContent = `${series.stage}${series.arm === "hybrid" ? "" : ` [${series.arm}]`} — ${series.status}, ${series.points.length} experiments${series.running > 0 ? `, ${series.running} running` : ""}`
      drawChart(box.querySelector(".chart-host"), key, (canvas, data) => progressChart(canvas, data, { onSelect: selectExperiment }), series)
    }
  }

  const renderGains = (page) => {
    const { report } = page
    if (!gainsBody.firstChild) {
      gainsBody.append(h("div", { class: "chart-grid" }, h("div", { class: "chart-box" }, h("h3", {}, "gain per stage"), h("div", { class: "chart-host", id: "gains-host" })), h("div", { class: "chart-box" }, h("h3", {}, "running best per arm"), h("div", { class: "chart-host", id: "arms-host" }))), h("div", { id: "gains-table" }))
    }
    drawChart(gainsBody.querySelector("#gains-host"), "gains", gainsChart, report)
    const lines = page.progress.map((s) => ({ label: `${s.stage}${s.arm === "hybrid" ? "" : ` [${s.arm}]`}`, best: s.best }))
    const first = page.progress[0]
    drawChart(gainsBody.querySelector("#arms-host"), "arms", (canvas, data) => staircaseChart(canvas, data, { metric: first?.metric, direction: first?.direction }), lines)
    const rows = [
      ...report.outerStages.map((o) => h("tr", {}, h("td", {}, "outer (GEPA score, 0–1)"), h("td", {}, o.stage), h("td", { class: "num" }, num(o.seedScore, 4)), h("td", { class: "num" }, num(o.bestScore, 4)), h("td", { class: "num" }, signed(o.gain)), h("td", {}, `${o.metricCalls} metric calls${o.evaluationsRun != null && o.referenceMetricCalls != null ? ` (budget counts ${o.accounting === "reference" ? "gepa's metric calls" : "evaluations run"}: ${o.evaluationsRun} evaluations run, ${o.referenceMetricCalls} at gepa's count)` : ""}, ${o.candidates} candidates`), h("td", {}, o.offline ? "offline reflector" : "LLM reflection"))),
      ...report.innerStages.map((i) =>
        h("tr", {}, h("td", {}, `inner (${i.metric}, ${i.direction === "minimize" ? "lower" : "higher"} is better)`), h("td", {}, `${i.stage}${i.arm === "hybrid" ? "" : ` [${i.arm}]`}`), h("td", { class: "num" }, num(i.baseline)), h("td", { class: "num" }, num(i.best)), h("td", { class: "num" }, signed(i.gain)), h("td", {}, `${i.kept} kept of ${i.experiments}, noise σ ${num(i.noiseSigma, 3)}`), h("td", {}, i.offline ? "offline proposer" : "LLM agent")),
      ),
    ]
    const arms = Object.entries(report.arms)
    const armRows = arms.map(([arm, figures]) => h("tr", {}, h("td", {}, arm), h("td", { class: "num" }, num(figures.best)), h("td", { class: "num" }, signed(figures.gain)), h("td", { class: "num" }, figures.experimentsToBest ?? "–")))
    const transferBlocks = report.innerStages
      .filter((i) => i.transfers.length > 0 || (i.drift && i.drift.remeasures > 0))
      .map((i) => {
        const ran = i.transfers.filter((t) => t.outcome !== "not run")
        const held = ran.filter((t) => t.outcome === "held").length
        const rows = i.transfers.map((t) =>
          h("tr", { class: t.outcome === "held" ? "kept" : "" }, h("td", {}, t.description), h("td", { class: "num" }, t.proxyDelta === null ? "crashed" : `${t.proxyDelta >= 0 ? "+" : ""}${(t.proxyDelta * 100).toFixed(2)} %`), h("td", { class: "num" }, `${t.proxyBudgetSeconds} s`), h("td", { class: "num" }, signed(t.improvement)), h("td", {}, t.outcome)),
        )
        return h(
          "div",
          { class: "transfers", dataset: { stage: i.stage, arm: i.arm } },
          h("h3", {}, `${i.stage}${i.arm === "hybrid" ? "" : ` [${i.arm}]`}: handed-over edits`),
          i.transfers.length > 0 ? h("p", { class: "muted" }, `transfer rate ${ran.length === 0 ? "– (none re-validated)" : `${held} of ${ran.length} held`} at ${i.timeBudgetSeconds ?? "?"} s`) : null,
          i.transfers.length > 0 ? table("transfers", ["edit", "proxy Δ", "at", "here: improvement", "transfer"], rows) : null,
          i.drift && i.drift.remeasures > 0 ? h("p", { class: "drift" }, `incumbent re-measured ${i.drift.remeasures} time${i.drift.remeasures === 1 ? "" : "s"}; largest drift ${signed(i.drift.largest)} ${i.metric}`) : null,
        )
      })
    replace(
      gainsBody.querySelector("#gains-table"),
      table("gains", ["level", "stage", "from", "to", "gain", "evidence", "proposer"], rows),
      arms.length > 1 ? table("arms", ["arm", "best", "gain", "experiments to best"], armRows) : null,
      ...transferBlocks,
    )
  }

  // ---------------------------------------------------------------------------------------------------------
  // Experiments

  const experimentsQuery = () => {
    const params = new URLSearchParams()
    if (state.status) params.set("status", state.status)
    if (state.stage) params.set("stage", state.stage)
    const text = params.toString()
    return `/api/runs/${encoded}/experiments${text ? `?${text}` : ""}`
  }

  const renderFilters = (page) => {
    const total = Object.values(page.counts).reduce((a, b) => a + b, 0)
    const statusSelect = h(
      "select",
      { id: "status-filter", "aria-label": "status filter", onchange: (event) => ((state.status = event.target.value), void refreshExperiments()) },
      h("option", { value: "" }, `all statuses (${total})`),
      statusOrder.filter((s) => page.counts[s] || s === state.status).map((s) => h("option", { value: s, selected: s === state.status }, `${s} (${page.counts[s] ?? 0})`)),
    )
    const stageSelect = h(
      "select",
      { id: "stage-filter", "aria-label": "stage filter", onchange: (event) => ((state.stage = event.target.value), void refreshExperiments()) },
      h("option", { value: "" }, "all stages"),
      page.stages.map((s) => h("option", { value: String(s.id), selected: String(s.id) === state.stage }, `${s.name}${s.arm === "hybrid" ? "" : ` [${s.arm}]`} (${s.role})`)),
    )
    replace(filterBar, h("label", {}, "status ", statusSelect), h("label", {}, "stage ", stageSelect))
  }

  const renderExperiments = (page) => {
    renderFilters(page)
    const shown = page.rows.slice(-500)
    const rows = shown.map((e) =>
      h(
        "tr",
        { class: `clickable${state.experiment === e.id ? " selected" : ""}`, dataset: { experiment: String(e.id) }, onclick: () => selectExperiment(e.id) },
        h("td", { class: "num" }, String(e.seq)),
        h("td", {}, `${e.stage}${e.arm === "hybrid" ? "" : ` [${e.arm}]`}`),
        h("td", {}, e.purpose, e.scenario ? ` ${e.scenario}` : ""),
        h("td", {}, badge(e.status)),
        h("td", { class: "num" }, num(e.metric)),
        h("td", { class: "num" }, signed(e.improvement)),
        h("td", { class: "wrap" }, e.description ?? ""),
        h("td", { class: "wrap muted" }, e.direction ?? ""),
        h("td", { class: "num" }, seconds(e.seconds)),
        h("td", { class: "num" }, String(e.worker)),
      ),
    )
    replace(
      experimentsBody,
      page.rows.length > shown.length ? h("p", { class: "muted" }, `showing the last ${shown.length} of ${page.rows.length}`) : null,
      table("experiments", ["#", "stage", "purpose", "status", "metric", "Δ", "description", "direction", "time", "worker"], rows, "no experiments match"),
    )
  }

  const refreshExperiments = async () => renderExperiments(await getJson(experimentsQuery()))

  const renderExperimentDetail = (e) => {
    const j = e.judgement
    replace(
      experimentDetail,
      h("h3", {}, `experiment #${e.seq} of ${e.stage}${e.arm === "hybrid" ? "" : ` [${e.arm}]`} `, badge(e.status), h("button", { type: "button", class: "link", onclick: () => ((state.experiment = null), replace(experimentDetail)) }, "close")),
      h(
        "dl",
        { class: "facts" },
        [
          ["purpose", `${e.purpose}${e.scenario ? ` (${e.scenario})` : ""}${e.parentId ? `, rerun of #${e.parentId}` : ""}`],
          ["metric", num(e.metric)],
          ["description", e.description ?? "–"],
          ["direction", e.direction ?? "–"],
          ["rationale", e.rationale ?? "–"],
          ["reason", e.reason ?? "–"],
          ["judgement", j ? `${j.verdict}: improvement ${signed(j.improvement)} vs gate ${num(j.gate, 3)} (σ ${num(j.sigma, 3)}, incumbent ${num(j.incumbent)}, mean ${num(j.candidateMean)} over ${j.runs} runs)` : "–"],
          ["proposer", `${e.proposer}${e.offline ? " (offline, no LLM)" : ""}`],
          ["run", `seed ${e.seed}, budget ${e.timeBudget} s, took ${seconds(e.seconds)}, exit ${e.exitCode ?? "–"}${e.signal ? `, ${e.signal}` : ""}${e.peakMemoryMb ? `, ${num(e.peakMemoryMb, 4)} MB peak` : ""}, attempt ${e.attempt}, worker ${e.worker}`],
          ["commits", `${e.baseCommit ? e.baseCommit.slice(0, 10) : "–"} → ${e.resultCommit ? e.resultCommit.slice(0, 10) : "–"}`],
          ["log", e.logPath ?? "–"],
        ].map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      ),
      h("h4", {}, "diff"),
      diffView(e.diff),
      h("h4", {}, "log tail"),
      pre(e.logTail ?? "(no output recorded)", "log"),
    )
  }

  const selectExperiment = async (id) => {
    state.experiment = id
    for (const tr of experimentsBody.querySelectorAll("tr.selected")) tr.classList.remove("selected")
    experimentsBody.querySelector(`tr[data-experiment="${id}"]`)?.classList.add("selected")
    renderExperimentDetail(await getJson(`/api/experiments/${id}`))
    experimentDetail.scrollIntoView({ block: "nearest" })
  }

  const renderEvents = (events) => {
    replace(
      eventsBody,
      events.length === 0
        ? h("p", { class: "muted" }, "no events yet")
        : h("div", { class: "events table-scroll short" }, h("ol", { class: "event-log" }, events.slice().reverse().map((e) => h("li", { class: `event-${e.kind}` }, h("span", { class: "muted" }, clock(e.createdAt)), " ", e.message)))),
    )
  }

  const refresh = async () => {
    const [page, experiments, outerData, llmData] = await Promise.all([getJson(`/api/runs/${encoded}`), getJson(experimentsQuery()), getJson(`/api/runs/${encoded}/outer`), getJson(`/api/runs/${encoded}/llm`)])
    document.title = `${page.run.name} ${page.run.id} — twoloop`
    renderHeader(page)
    renderProgress(page)
    renderGains(page)
    renderExperiments(experiments)
    outer.render(outerData)
    llm.render(llmData)
    renderEvents(page.events)
    if (state.experiment !== null && experimentDetail.firstChild) {
      const current = experiments.rows.find((e) => e.id === state.experiment)
      if (current && (current.status === "running" || current.status === "planned" || experimentDetail.dataset.status !== current.status)) {
        experimentDetail.dataset.status = current.status
        renderExperimentDetail(await getJson(`/api/experiments/${state.experiment}`))
      }
    }
  }

  const destroy = () => charts.destroy()

  return { refresh, destroy }
}
