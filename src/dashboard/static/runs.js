// The runs list: one row per run (name, status, arms, best metric, gains, cost); tick runs to compare them.
import { getJson } from "./api.js"
import { badge, dateTime, elapsed, h, money, num, replace, section, signed, table } from "./dom.js"

export const runsPage = (container) => {
  const selected = new Set()
  const body = h("div", {})
  const compareButton = h("button", { type: "button", disabled: true, onclick: () => (window.location.hash = `#/compare/${[...selected].join(",")}`) }, "compare selected")
  const storeLine = h("p", { class: "muted" })
  container.append(section("runs", "Runs", storeLine, h("div", { class: "toolbar" }, compareButton, h("span", { class: "muted" }, "tick two or more runs to compare them")), body))

  const syncButton = () => {
    compareButton.disabled = selected.size < 2
  }

  const row = (run) =>
    h(
      "tr",
      { dataset: { run: run.id } },
      h(
        "td",
        {},
        h("input", {
          type: "checkbox",
          checked: selected.has(run.id),
          "aria-label": `select ${run.id}`,
          onchange: (event) => {
            if (event.target.checked) selected.add(run.id)
            else selected.delete(run.id)
            syncButton()
          },
        }),
      ),
      h("td", {}, h("a", { href: `#/run/${encodeURIComponent(run.id)}` }, run.id)),
      h("td", {}, run.name),
      h("td", {}, badge(run.status), run.live ? h("span", { class: "badge live-badge" }, "live") : null),
      h("td", {}, run.arms.join(", ")),
      h("td", { class: "num" }, run.metric ? `${run.metric} ${num(run.baseline)} → ${num(run.best)}` : "–"),
      h("td", { class: "num" }, signed(run.innerGain), run.innerOffline ? h("span", { class: "tag" }, "offline") : null),
      h("td", { class: "num" }, signed(run.outerGain), run.outerOffline ? h("span", { class: "tag" }, "offline") : null),
      h("td", { class: "num" }, `${run.kept}/${run.experiments}`),
      h("td", { class: "num" }, run.llmCalls > 0 ? `${money(run.costUsd)} (${run.llmCalls} calls)` : "–"),
      h("td", {}, dateTime(run.startedAt)),
      h("td", { class: "num" }, elapsed(run.startedAt, run.endedAt)),
    )

  const refresh = async () => {
    const [{ runs }, store] = await Promise.all([getJson("/api/runs"), getJson("/api/store")])
    storeLine.textContent = `${store.file} — ${store.runs} run${store.runs === 1 ? "" : "s"}, schema ${store.schemaVersion}`
    for (const id of [...selected]) if (!runs.some((r) => r.id === id)) selected.delete(id)
    syncButton()
    replace(
      body,
      table(
        "runs",
        ["", "run", "name", "status", "arms", "best metric", "inner gain", "outer gain", "kept", "LLM cost", "started", "took"],
        runs.map(row),
        "no runs in this store yet",
      ),
    )
  }

  return { refresh, destroy: () => undefined }
}
