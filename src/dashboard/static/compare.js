// Several runs side by side: their running-best staircases on one chart and the report's numbers in a table.
import { getJson } from "./api.js"
import { staircaseChart } from "./charts.js"
import { badge, elapsed, h, money, num, percent, replace, section, seconds, signed, table } from "./dom.js"

export const comparePage = (container, runIds) => {
  const chartHost = h("div", { class: "chart-host" })
  const body = h("div", {})
  const missing = h("div", {})
  container.append(section("compare", `Compare ${runIds.length} runs`, missing, h("div", { class: "chart-box" }, h("h3", {}, "running best of each run (its primary arm's last inner stage)"), chartHost), body))
  let handle = null

  const refresh = async () => {
    const { runs } = await getJson(`/api/compare?runs=${runIds.map(encodeURIComponent).join(",")}`)
    const found = runs.filter((r) => !r.missing)
    replace(missing, ...runs.filter((r) => r.missing).map((r) => h("p", { class: "error" }, `no run ${r.runId} in this store`)))
    const lines = found.filter((r) => r.progress).map((r) => ({ label: `${r.run.id}${r.run.name ? ` (${r.run.name})` : ""}`, best: r.progress.best }))
    const first = found.find((r) => r.progress)?.progress
    if (handle) handle.update(lines)
    else {
      const canvas = h("canvas", { dataset: { chart: "compare" } })
      chartHost.append(h("div", { class: "chart" }, canvas))
      handle = staircaseChart(canvas, lines, { metric: first?.metric, direction: first?.direction })
    }
    const rows = found.map(({ run, report }) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: `#/run/${encodeURIComponent(run.id)}` }, run.id)),
        h("td", {}, run.name),
        h("td", {}, badge(run.status)),
        h("td", { class: "num" }, signed(report.outer?.gain), report.outer?.offline ? h("span", { class: "tag" }, "offline") : null),
        h("td", { class: "num" }, num(report.inner?.baseline)),
        h("td", { class: "num" }, num(report.inner?.best)),
        h("td", { class: "num" }, signed(report.inner?.gain), report.inner?.offline ? h("span", { class: "tag" }, "offline") : null),
        h("td", {}, Object.entries(report.arms).map(([arm, a]) => `${arm}: ${num(a.best)} (${a.experimentsToBest ?? "–"} exp.)`).join("; ")),
        h("td", { class: "num" }, `${run.kept}/${run.experiments}`),
        h("td", { class: "num" }, `${money(report.llm.costUsd)} (${report.llm.calls})`),
        h("td", { class: "num" }, `${seconds(report.compute.experimentSeconds)}, duty ${percent(report.compute.dutyCycle)}`),
        h("td", { class: "num" }, elapsed(run.startedAt, run.endedAt)),
      ),
    )
    replace(body, table("compare", ["run", "name", "status", "outer gain", "inner baseline", "inner best", "inner gain", "arms (best, experiments to best)", "kept", "LLM cost (calls)", "compute", "took"], rows))
  }

  return { refresh, destroy: () => handle?.chart.destroy() }
}
