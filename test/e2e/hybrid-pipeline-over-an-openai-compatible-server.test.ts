/**
 * The whole hybrid pipeline through the real HTTP provider: GEPA's seed directions, the agent's proposals on
 * proxy runs, the reflection rewrites and the inner agent's edits all go to a local OpenAI-compatible server
 * whose replies are scripted but realistic — they read the prompt (the editable file, the feedback) and answer
 * like a model would.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type OpenAiServer, startOpenAiServer } from "../support/openaiServer.ts"
import { lastMessage, scriptedResearcher } from "../support/scriptedResearcher.ts"
import { configFor, makeProject, runPipeline } from "../support/pipeline.ts"

describe("the hybrid pipeline over HTTP", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
    server.setFallback({ kind: "reply", respond: scriptedResearcher })
  })
  afterAll(() => server.close())

  it.live("evolves instructions with LLM reflection, hands over directions, and the agent improves the target", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target", { git: true })
      const model = `openai-compatible:scripted@${server.baseURL}`
      const config = configFor(root, {
        model,
        prices: { "openai-compatible:scripted": { inputPerMillion: 1, outputPerMillion: 2 } },
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
        executor: { kind: "local", gpus: "none" },
        stages: [
          { kind: "gepa", name: "outer", budget: { metricCalls: 15 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
          { kind: "code-search", name: "inner", budget: { experiments: 6 }, pipelining: false },
        ],
      })
      const summary = yield* runPipeline(config).effect
      expect(summary.status).toBe("completed")
      const db = new Database(config.store, { readonly: true })
      const purposes = (db.prepare("SELECT purpose, COUNT(*) AS n, SUM(error IS NULL) AS ok, SUM(cost_usd) AS cost FROM llm_calls GROUP BY purpose").all() as Array<Record<string, any>>).map((r) => [r.purpose, r.n > 0, r.ok === r.n, r.cost > 0])
      expect(purposes).toEqual(
        expect.arrayContaining([
          ["gepa.seed-directions", true, true, true],
          ["gepa.agent-proposal", true, true, true],
          ["gepa.reflection", true, true, true],
          ["code-search.propose", true, true, true],
        ]),
      )
      const outer = db.prepare("SELECT handoff_json, summary_json FROM stages WHERE name = 'outer'").get() as { handoff_json: string; summary_json: string }
      const handoff = JSON.parse(outer.handoff_json)
      expect(handoff.offline).toBe(false)
      expect(handoff.directions.length).toBeGreaterThan(0)
      expect(handoff.directions[0]).toMatchObject({ constants: expect.any(Array), evidence: { tries: expect.any(Number) } })
      const proposals = db.prepare("SELECT reflection_prompt, reflection_output FROM proposals WHERE reflection_prompt IS NOT NULL").all() as Array<Record<string, string>>
      expect(proposals.length).toBeGreaterThan(0)
      expect(proposals[0]!.reflection_prompt).toContain("An assistant was given the following instructions")
      const inner = db.prepare("SELECT e.* FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.name = 'inner' AND e.purpose = 'candidate'").all() as Array<Record<string, any>>
      expect(inner.every((e) => (e.proposer === "llm" || e.proposer === "handoff") && e.offline === 0)).toBe(true)
      expect(inner.filter((e) => e.status === "keep").length).toBeGreaterThan(0)
      // the agent's proxy edits that improved were handed over with their proxy Δ and re-validated first
      expect(handoff.edits.length).toBeGreaterThan(0)
      expect(handoff.edits[0]).toMatchObject({ proposer: "llm", proxyDelta: expect.any(Number), budgetSeconds: expect.any(Number), tries: expect.any(Number) })
      const revalidated = inner.filter((e) => e.proposer === "handoff")
      expect(revalidated.length).toBeGreaterThan(0)
      expect(revalidated[0]!.seq).toBeLessThan(Math.min(...inner.filter((e) => e.proposer === "llm").map((e) => e.seq)))
      expect(revalidated[0]!.rationale).toMatch(/proxy feedback suggests it helps \[handed over by the outer stage: proxy Δ \+/)
      const innerSummary = JSON.parse((db.prepare("SELECT summary_json FROM stages WHERE name = 'inner'").get() as { summary_json: string }).summary_json)
      expect(innerSummary.transfers.filter((t: { outcome: string }) => t.outcome !== "not run").length).toBe(revalidated.length)
      db.close()
      // the inner agent was told the handed-over directions first
      const innerPrompt = server.requests.map(lastMessage).find((p) => p.includes("# Research directions") && p.includes("# Goal") && !p.includes("This is proxy scenario"))
      expect(innerPrompt).toBeDefined()
      const result = summary.stages.find((s) => s.name === "inner")!.summary as Record<string, number>
      expect(result.best).toBeLessThan(result.baseline)
    }))
})
