// The outer stage (GEPA) of a run: candidate lineage (chart and tree, click for components), the Pareto front
// over iterations, the per-scenario score matrix, and the proposals, each opening its reflection prompt and reply.
import { getJson } from "./api.js"
import { lineageChart, paretoChart } from "./charts.js"
import { badge, h, money, num, pre, replace, table } from "./dom.js"

export const outerSection = (charts) => {
  const outerBody = h("div", {})
  const state = { candidate: new Map(), openProposals: new Set() }
  const proposalCache = new Map()

  const lineageTree = (stage, onSelect) => {
    const children = new Map()
    for (const c of stage.candidates) {
      const parent = c.parents[0] ?? -1
      children.set(parent, [...(children.get(parent) ?? []), c])
    }
    const node = (c) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: `candidate${c.best ? " best" : ""}${c.onFront ? " front" : ""}`, onclick: () => onSelect(c.idx) },
          `#${c.idx} ${c.origin}${c.parents.length > 1 ? ` of ${c.parents.join(" + ")}` : ""} — ${num(c.valScore ?? c.trainScore, 4)}`,
        ),
        c.best ? h("span", { class: "tag" }, "best") : null,
        c.onFront ? h("span", { class: "tag front" }, "front") : null,
        children.has(c.idx) ? h("ul", {}, children.get(c.idx).map(node)) : null,
      )
    return h("ul", { class: "tree" }, (children.get(-1) ?? []).map(node))
  }

  const candidatePanel = (stage, idx) => {
    const c = stage.candidates.find((x) => x.idx === idx)
    if (!c) return h("p", { class: "muted" }, "click a candidate to see its components")
    return h("div", {}, h("h4", {}, `candidate ${c.idx} (${c.origin}, hash ${c.hash})`), ...c.components.map(([name, text]) => h("div", {}, h("h5", {}, name), pre(text))))
  }

  const scoreMatrix = (stage) => {
    const { matrix } = stage
    const values = matrix.rows.flatMap((r) => r.scores).filter((v) => v !== null)
    const low = Math.min(...values)
    const high = Math.max(...values)
    const shade = (value) => {
      if (value === null || !Number.isFinite(low) || high === low) return ""
      const t = (value - low) / (high - low)
      return `hsl(${Math.round(t * 120)}, 60%, ${92 - Math.round(t * 22)}%)`
    }
    const rows = matrix.rows.map((r) =>
      h(
        "tr",
        {},
        h("td", {}, `#${r.idx}`),
        r.scores.map((s) => {
          const cell = h("td", { class: "num" }, num(s, 3))
          const color = shade(s)
          if (color) cell.style.backgroundColor = color
          return cell
        }),
        h("td", { class: "num" }, h("b", {}, num(r.mean, 4))),
      ),
    )
    return table(`scores-${stage.stageId}`, ["candidate", ...matrix.examples, "mean"], rows, "no evaluations yet")
  }

  const proposalRows = (stage) =>
    stage.proposals.flatMap((p) => {
      const key = `${stage.stageId}:${p.iteration}`
      const open = state.openProposals.has(key)
      const toggle = async () => {
        if (state.openProposals.has(key)) state.openProposals.delete(key)
        else {
          state.openProposals.add(key)
          if (!proposalCache.has(key)) proposalCache.set(key, await getJson(`/api/stages/${stage.stageId}/proposals/${p.iteration}`))
        }
        renderOuter(lastOuter)
      }
      const row = h(
        "tr",
        { class: "clickable", dataset: { iteration: String(p.iteration) }, onclick: toggle },
        h("td", { class: "num" }, String(p.iteration)),
        h("td", {}, p.kind, p.offline ? h("span", { class: "tag" }, "offline") : null),
        h("td", {}, p.parents.join(", ") || "–"),
        h("td", {}, p.components.join(", ") || "–"),
        h("td", {}, p.minibatch.join(", ")),
        h("td", { class: "num" }, `${num(p.sumBefore, 4)} → ${num(p.sumAfter, 4)}`),
        h("td", {}, p.accepted ? badge("keep", "accepted") : badge("discard", "rejected")),
        h("td", { class: "wrap" }, p.reason),
        h("td", { class: "num" }, p.childIdx === null ? "–" : `#${p.childIdx}`),
        h("td", {}, h("button", { type: "button", class: "link" }, open ? "hide" : "prompt & reply")),
      )
      if (!open) return [row]
      const text = proposalCache.get(key)
      const reflections = text?.reflections ?? []
      const detail = h(
        "tr",
        { class: "proposal-detail" },
        h(
          "td",
          { colspan: "10" },
          text
            ? [
                h("details", { open: true }, h("summary", {}, "reflection prompt"), pre(text.reflectionPrompt ?? (reflections.length > 0 ? reflections.map((r) => `[${r.component}]\n${r.prompt}`).join("\n\n") : "(no prompt recorded)"))),
                h("details", { open: true }, h("summary", {}, "reply"), pre(text.reflectionOutput ?? "(no reply)")),
                reflections.length > 0 ? h("p", { class: "muted" }, reflections.map((r) => `${r.component}: ${r.offline ? "offline" : `LLM call #${r.llmCallId ?? "?"}, ${money(r.costUsd)}`}`).join("; ")) : null,
              ]
            : "loading…",
        ),
      )
      return [row, detail]
    })

  let lastOuter = null
  const selectCandidate = (stageId, idx) => {
    state.candidate.set(stageId, idx)
    const stage = lastOuter?.stages.find((s) => s.stageId === stageId)
    const host = outerBody.querySelector(`[data-outer="${stageId}"] .candidate-host`)
    if (stage && host) replace(host, candidatePanel(stage, idx))
  }
  const renderOuter = (outer) => {
    lastOuter = outer
    if (outer.stages.length === 0) {
      replace(outerBody, h("p", { class: "muted" }, "this run has no outer stage"))
      return
    }
    for (const stage of outer.stages) {
      let box = outerBody.querySelector(`[data-outer="${stage.stageId}"]`)
      if (!box) {
        if (outerBody.querySelector("p.muted")) replace(outerBody)
        box = h(
          "div",
          { class: "outer-stage", dataset: { outer: String(stage.stageId) } },
          h("h3", { class: "outer-title" }),
          h("div", { class: "chart-grid" }, h("div", { class: "chart-box" }, h("h4", {}, "candidate lineage"), h("div", { class: "chart-host lineage-host" })), h("div", { class: "chart-box" }, h("h4", {}, "Pareto front over iterations"), h("div", { class: "chart-host pareto-host" }))),
          h("div", { class: "two-columns" }, h("div", { class: "tree-host" }), h("div", { class: "candidate-host detail" })),
          h("h4", {}, "per-scenario scores"),
          h("div", { class: "matrix-host table-scroll" }),
          h("h4", {}, "proposals (click a row for the reflection prompt and reply)"),
          h("div", { class: "proposals-host table-scroll" }),
        )
        outerBody.append(box)
      }
      const summary = stage.summary ?? {}
      box.querySelector(".outer-title").textContent = `${stage.stage}${stage.arm === "hybrid" ? "" : ` [${stage.arm}]`} — ${stage.status}, ${stage.candidates.length} candidates, ${stage.proposals.length} iterations${summary.metricCalls !== undefined ? `, ${summary.metricCalls} metric calls` : ""}${summary.offline ? " (offline reflector)" : ""}`
      const select = (idx) => selectCandidate(stage.stageId, idx)
      charts.draw(box.querySelector(".lineage-host"), `lineage:${stage.stageId}`, (canvas, data) => lineageChart(canvas, data, { onSelect: select }), stage)
      charts.draw(box.querySelector(".pareto-host"), `pareto:${stage.stageId}`, paretoChart, stage)
      replace(box.querySelector(".tree-host"), lineageTree(stage, select))
      replace(box.querySelector(".candidate-host"), candidatePanel(stage, state.candidate.get(stage.stageId)))
      replace(box.querySelector(".matrix-host"), scoreMatrix(stage))
      replace(box.querySelector(".proposals-host"), table(`proposals-${stage.stageId}`, ["iteration", "kind", "parents", "components", "minibatch", "sum before → after", "decision", "reason", "child", ""], proposalRows(stage), "no iterations yet"))
    }
  }

  return { element: outerBody, render: renderOuter }
}
