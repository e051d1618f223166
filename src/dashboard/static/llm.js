// LLM calls and cost of a run: cumulative cost and latency over time, totals by purpose, recent calls (click
// one for its prompt and response).
import { getJson } from "./api.js"
import { llmChart } from "./charts.js"
import { clock, h, money, pre, replace, table } from "./dom.js"

export const llmSection = (charts) => {
  const llmBody = h("div", {})
  const state = { llmCall: null }

  const llmCallPanel = h("div", { class: "detail" })

  const selectLlmCall = async (id) => {
    state.llmCall = id
    const call = await getJson(`/api/llm-calls/${id}`)
    replace(
      llmCallPanel,
      h("h3", {}, `LLM call #${call.id}: ${call.purpose} `, h("button", { type: "button", class: "link", onclick: () => ((state.llmCall = null), replace(llmCallPanel)) }, "close")),
      h("p", { class: "muted" }, `${call.model}; prompt ${call.promptHash.slice(0, 12)}${call.templateHash ? `, template ${call.templateHash.slice(0, 12)}` : ""}; ${call.inputTokens ?? "?"} in / ${call.outputTokens ?? "?"} out; ${call.costUsd === null ? "no price" : money(call.costUsd)}; ${(call.latencyMs / 1000).toFixed(2)} s${call.error ? `; error: ${call.error}` : ""}`),
      h("details", { open: true }, h("summary", {}, "prompt"), pre(call.promptText)),
      h("details", { open: true }, h("summary", {}, "response"), pre(call.responseText ?? "(none)")),
    )
  }

  const renderLlm = (llm) => {
    if (llm.calls.length === 0) {
      replace(llmBody, h("p", { class: "muted" }, "no LLM calls in this run (offline proposer and reflector)"))
      charts.remove("llm")
      return
    }
    if (!llmBody.querySelector(".llm-host")) replace(llmBody, h("div", { class: "chart-box" }, h("div", { class: "chart-host llm-host" })), h("div", { class: "llm-tables" }), llmCallPanel)
    charts.draw(llmBody.querySelector(".llm-host"), "llm", llmChart, llm)
    const purposeRows = llm.byPurpose.map((p) => h("tr", {}, h("td", {}, p.purpose), h("td", { class: "num" }, String(p.calls)), h("td", { class: "num" }, String(p.inputTokens)), h("td", { class: "num" }, String(p.outputTokens)), h("td", { class: "num" }, money(p.costUsd)), h("td", { class: "num" }, String(p.errors))))
    const recent = llm.calls.slice(-100).reverse()
    const callRows = recent.map((c) =>
      h(
        "tr",
        { class: `clickable${state.llmCall === c.id ? " selected" : ""}`, onclick: () => selectLlmCall(c.id) },
        h("td", { class: "num" }, String(c.id)),
        h("td", {}, clock(c.createdAt)),
        h("td", {}, c.purpose),
        h("td", {}, c.model),
        h("td", { class: "num" }, `${c.inputTokens ?? "?"} / ${c.outputTokens ?? "?"}`),
        h("td", { class: "num" }, c.costUsd === null ? "–" : money(c.costUsd)),
        h("td", { class: "num" }, `${(c.latencyMs / 1000).toFixed(2)} s`),
        h("td", {}, c.cached ? "cached" : c.error ? h("span", { class: "error" }, c.error) : "ok"),
      ),
    )
    replace(
      llmBody.querySelector(".llm-tables"),
      h("h4", {}, "by purpose"),
      table("llm-purposes", ["purpose", "calls", "input tokens", "output tokens", "cost", "errors"], purposeRows),
      h("h4", {}, `recent calls (${recent.length} of ${llm.calls.length}; click for prompt and response)`),
      h("div", { class: "table-scroll short" }, table("llm-calls", ["#", "time", "purpose", "model", "tokens in / out", "cost", "latency", "outcome"], callRows)),
    )
  }

  return { element: llmBody, render: renderLlm }
}
