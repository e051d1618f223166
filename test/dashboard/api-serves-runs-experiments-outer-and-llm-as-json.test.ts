/**
 * The dashboard's JSON API over a store from two real hybrid runs (GEPA outer stage, code search in two
 * arms): one offline with enough metric calls for a candidate lineage, one with the scripted researcher
 * behind a local OpenAI-compatible server (priced LLM calls, reflection prompts). Every view's numbers agree
 * with the rows in the store and with the report model.
 */
import Database from "better-sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { get, getJson, type RealStore, realStore, type TestDashboard, testDashboard } from "./support.ts"

let store: RealStore
let dashboard: TestDashboard
let raw: Database.Database
let runId: string
let offlineRunId: string

beforeAll(async () => {
  store = await realStore([
    { outer: true, metricCalls: 28, experiments: 5 },
    { llm: true, outer: true, experiments: 5 },
  ])
  offlineRunId = store.runIds[0]!
  runId = store.runIds[1]!
  dashboard = testDashboard(store.file)
  raw = new Database(store.file, { readonly: true })
})

afterAll(() => {
  dashboard?.close()
  raw?.close()
})

const sql = <T = Record<string, any>>(query: string, ...params: Array<unknown>) => raw.prepare(query).all(...params) as Array<T>

describe("the dashboard API", () => {
  it("lists runs newest first with status, arms, best metric, gains and cost", async () => {
    const { runs } = await getJson(dashboard, "/api/runs")
    expect(runs.map((r: any) => r.id)).toEqual([...store.runIds].reverse())
    const run = runs[0]
    expect(run).toMatchObject({ id: runId, name: "dashboard-test", status: "completed", live: false, arms: ["hybrid", "inner-only"], metric: "loss", direction: "minimize", innerOffline: false, outerOffline: false })
    const summary = JSON.parse(sql<{ summary_json: string }>("SELECT summary_json FROM stages WHERE run_id = ? AND arm = 'hybrid' AND kind = 'code-search'", runId)[0]!.summary_json)
    expect(run.best).toBe(summary.best)
    expect(run.innerGain).toBe(summary.gain)
    expect(run.outerGain).toBeGreaterThanOrEqual(0)
    const cost = sql<{ cost: number; calls: number }>("SELECT SUM(cost_usd) AS cost, COUNT(*) AS calls FROM llm_calls WHERE run_id = ?", runId)[0]!
    expect(run.llmCalls).toBe(cost.calls)
    expect(run.costUsd).toBeCloseTo(cost.cost, 12)
    expect(run.costUsd).toBeGreaterThan(0)
    expect(run.experiments).toBe(sql("SELECT e.id FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ? AND s.kind = 'code-search'", runId).length)
  })

  it("gives each inner stage a progress series built from its experiments, with the running best", async () => {
    const page = await getJson(dashboard, `/api/runs/${runId}`)
    expect(page.progress.map((s: any) => s.arm)).toEqual(["hybrid", "inner-only"])
    for (const series of page.progress) {
      const rows = sql("SELECT id, status, metric FROM experiments WHERE stage_id = ? AND purpose IN ('baseline','candidate','rebase','promote') AND status NOT IN ('planned','running') ORDER BY seq", series.stageId)
      expect(series.points.map((p: any) => p.id)).toEqual(rows.map((r) => r.id))
      expect(series.points.map((p: any) => p.status)).toEqual(rows.map((r) => r.status))
      expect(series.points.filter((p: any) => p.status === "keep").length).toBeGreaterThan(0)
      const ys = series.best.map((p: any) => p.y)
      for (let i = 1; i < ys.length; i += 1) expect(ys[i]).toBeLessThanOrEqual(ys[i - 1])
      const summary = JSON.parse(sql<{ summary_json: string }>("SELECT summary_json FROM stages WHERE id = ?", series.stageId)[0]!.summary_json)
      expect(ys[0]).toBeCloseTo(summary.baseline, 10)
      expect(ys.at(-1)).toBeCloseTo(summary.best, 10)
      const kept = series.points.find((p: any) => p.status === "keep")
      expect(kept.diff).toContain("+++ b/train.mjs")
      expect(kept.rationale).toMatch(/proxy feedback suggests it helps/)
    }
    expect(page.report).toMatchObject({ runId, status: "completed", name: "dashboard-test" })
    // the hybrid arm's handed-over edits with their transfer, re-measurements, and experiments to best per arm
    const hybridInner = page.report.innerStages.find((s: any) => s.arm === "hybrid")
    const handedRows = sql<{ status: string; scenario: string }>("SELECT e.status, e.scenario FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ? AND e.proposer = 'handoff'", runId)
    expect(hybridInner.transfers.length).toBeGreaterThan(0)
    expect(hybridInner.transfers.filter((t: any) => t.outcome !== "not run").map((t: any) => t.outcome)).toEqual(handedRows.map((r) => (r.status === "keep" ? "held" : "did not hold")))
    expect(hybridInner.drift).toMatchObject({ remeasures: expect.any(Number) })
    expect(Object.keys(page.report.arms)).toEqual(["hybrid", "inner-only"])
    for (const arm of Object.values(page.report.arms) as Array<any>) expect(arm).toHaveProperty("experimentsToBest")
    expect(page.stages.map((s: any) => [s.arm, s.name, s.role])).toEqual([
      ["hybrid", "outer", "outer"],
      ["hybrid", "inner", "inner"],
      ["inner-only", "inner", "inner"],
    ])
    expect(page.events.length).toBeGreaterThan(0)
    expect(page.events.at(-1).message).toMatch(/completed/)
  })

  it("filters the experiments table by status and stage, and serves one experiment with diff and log tail", async () => {
    const all = await getJson(dashboard, `/api/runs/${runId}/experiments`)
    const total = sql("SELECT e.id FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.run_id = ?", runId).length
    expect(all.rows).toHaveLength(total)
    expect(Object.values(all.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(total)
    const kept = await getJson(dashboard, `/api/runs/${runId}/experiments?status=keep`)
    expect(kept.rows.length).toBe(all.counts.keep)
    expect(kept.rows.every((r: any) => r.status === "keep")).toBe(true)
    const two = await getJson(dashboard, `/api/runs/${runId}/experiments?status=keep,discard`)
    expect(two.rows.length).toBe((all.counts.keep ?? 0) + (all.counts.discard ?? 0))
    const innerOnly = all.stages.find((s: any) => s.arm === "inner-only")
    const scoped = await getJson(dashboard, `/api/runs/${runId}/experiments?stage=${innerOnly.id}`)
    expect(scoped.rows.length).toBeGreaterThan(0)
    expect(scoped.rows.every((r: any) => r.stageId === innerOnly.id && r.arm === "inner-only")).toBe(true)

    const detail = await getJson(dashboard, `/api/experiments/${kept.rows[0].id}`)
    const proposer = sql<{ proposer: string }>("SELECT proposer FROM experiments WHERE id = ?", kept.rows[0].id)[0]!.proposer
    expect(["llm", "handoff"]).toContain(proposer)
    expect(detail).toMatchObject({ id: kept.rows[0].id, status: "keep", proposer })
    expect(detail.diff).toContain("@@")
    expect(detail.logTail).toMatch(/loss: /)
    expect(detail.judgement).toMatchObject({ verdict: "keep" })
  })

  it("shows the outer stage: lineage, per-scenario score matrix, Pareto front over iterations, and each reflection", async () => {
    const { stages } = await getJson(dashboard, `/api/runs/${offlineRunId}/outer`)
    expect(stages).toHaveLength(1)
    const outer = stages[0]
    const candidates = sql<{ idx: number; parent1: number | null }>("SELECT idx, parent1 FROM candidates WHERE stage_id = ? ORDER BY idx", outer.stageId)
    expect(candidates.length).toBeGreaterThan(1)
    expect(outer.candidates.map((c: any) => [c.idx, c.parents[0] ?? null])).toEqual(candidates.map((c) => [c.idx, c.parent1]))
    expect(outer.candidates[0]).toMatchObject({ idx: 0, origin: "seed", parents: [] })
    expect(outer.candidates[1].components.map(([name]: [string]) => name)).toEqual(["instructions", "directions"])
    expect(outer.matrix.split).toBe("val")
    expect(outer.matrix.examples).toEqual(["s0", "s1", "s2"])
    const scored = sql<{ n: number }>("SELECT COUNT(*) AS n FROM evaluations WHERE stage_id = ? AND split = 'val'", outer.stageId)[0]!.n
    expect(outer.matrix.rows.flatMap((r: any) => r.scores).filter((s: number | null) => s !== null)).toHaveLength(scored)
    expect(outer.pareto[0]).toMatchObject({ iteration: 0, candidates: 1, front: [0] })
    expect(outer.pareto.at(-1).candidates).toBe(candidates.length)
    const best = outer.pareto.map((p: any) => p.bestScore)
    for (let i = 1; i < best.length; i += 1) expect(best[i]).toBeGreaterThanOrEqual(best[i - 1])
    expect(best.at(-1)).toBeGreaterThan(best[0])
    expect(outer.candidates.filter((c: any) => c.best)).toHaveLength(1)
    const proposals = sql<{ iteration: number }>("SELECT iteration FROM proposals WHERE stage_id = ? ORDER BY iteration", outer.stageId)
    expect(outer.proposals.map((p: any) => p.iteration)).toEqual(proposals.map((p) => p.iteration))
    expect(outer.proposals.some((p: any) => p.accepted)).toBe(true)

    const llmOuter = (await getJson(dashboard, `/api/runs/${runId}/outer`)).stages[0]
    const reflected = sql<{ iteration: number }>("SELECT iteration FROM proposals WHERE stage_id = ? AND reflection_prompt IS NOT NULL ORDER BY iteration", llmOuter.stageId)[0]!
    const text = await getJson(dashboard, `/api/stages/${llmOuter.stageId}/proposals/${reflected.iteration}`)
    expect(text.reflectionPrompt).toContain("An assistant was given the following instructions")
    expect(text.reflectionOutput).toContain("improved instructions")
    expect(text.reflections.length).toBeGreaterThan(0)
    expect(text.reflections[0].llmCallId).toEqual(expect.any(Number))
  })

  it("plots LLM calls and cost over time, and serves one call's prompt and response", async () => {
    const llm = await getJson(dashboard, `/api/runs/${runId}/llm`)
    const calls = sql<{ id: number; cost_usd: number }>("SELECT id, cost_usd FROM llm_calls WHERE run_id = ? ORDER BY id", runId)
    expect(llm.calls.map((c: any) => c.id)).toEqual(calls.map((c) => c.id))
    expect(llm.costKnown).toBe(true)
    const cumulative = llm.calls.map((c: any) => c.cumulativeCostUsd)
    for (let i = 1; i < cumulative.length; i += 1) expect(cumulative[i]).toBeGreaterThanOrEqual(cumulative[i - 1])
    expect(cumulative.at(-1)).toBeCloseTo(calls.reduce((s, c) => s + c.cost_usd, 0), 12)
    expect(llm.byPurpose.map((p: any) => p.purpose)).toEqual(expect.arrayContaining(["gepa.reflection", "code-search.propose"]))
    expect(llm.calls[0]).not.toHaveProperty("promptText")
    const call = await getJson(dashboard, `/api/llm-calls/${calls[0]!.id}`)
    expect(call.promptText.length).toBeGreaterThan(0)
    expect(call.responseText.length).toBeGreaterThan(0)
  })

  it("compares runs side by side and names the ones it does not know", async () => {
    const { runs } = await getJson(dashboard, `/api/compare?runs=${store.runIds.join(",")},nope`)
    expect(runs).toHaveLength(3)
    expect(runs.slice(0, 2).map((r: any) => r.run.id)).toEqual(store.runIds)
    expect(runs[0].progress.arm).toBe("hybrid")
    expect(runs[0].progress.best.length).toBeGreaterThan(1)
    expect(runs[2]).toEqual({ runId: "nope", missing: true })
    expect((await get(dashboard, "/api/compare")).status).toBe(400)
  })

  it("answers 404 with a JSON error for what the store does not hold", async () => {
    for (const path of ["/api/runs/nope", "/api/runs/nope/experiments", "/api/runs/nope/outer", "/api/runs/nope/llm", "/api/experiments/999999", "/api/experiments/abc", "/api/llm-calls/999999", "/api/stages/1/proposals/999", "/api/nothing"]) {
      const response = await get(dashboard, path)
      expect(response.status, path).toBe(404)
      expect(((await response.json()) as any).error, path).toEqual(expect.any(String))
    }
  })

  it("serves the front end and Chart.js from the package, with a strict content security policy", async () => {
    const index = await get(dashboard, "/")
    expect(index.status).toBe(200)
    expect(index.headers.get("content-type")).toMatch(/text\/html/)
    expect(index.headers.get("content-security-policy")).toMatch(/script-src 'self'/)
    expect(index.headers.get("referrer-policy")).toBe("no-referrer")
    const html = await index.text()
    expect(html).toContain('src="/vendor/chart.umd.min.js"')
    expect(html).not.toMatch(/https?:\/\//)
    const chart = await get(dashboard, "/vendor/chart.umd.min.js")
    expect(chart.status).toBe(200)
    expect(await chart.text()).toMatch(/Chart\.js v4/)
    for (const asset of ["/app.js", "/api.js", "/charts.js", "/dom.js", "/run.js", "/outer.js", "/llm.js", "/runs.js", "/compare.js", "/style.css", "/favicon.svg"]) {
      const response = await get(dashboard, asset)
      expect(response.status, asset).toBe(200)
      expect(await response.text(), asset).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    }
    const etag = index.headers.get("etag")!
    expect((await get(dashboard, "/", { headers: { "If-None-Match": etag } })).status).toBe(304)
    expect((await get(dashboard, "/../package.json")).status).toBe(404)
    expect((await get(dashboard, "/src/dashboard/server.ts")).status).toBe(404)
  })
})
