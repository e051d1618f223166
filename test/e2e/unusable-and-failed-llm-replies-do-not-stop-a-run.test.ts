/**
 * The whole hybrid pipeline through the real HTTP provider while the model misbehaves: the seed-directions
 * reply is prose, its corrective retry is empty (the stage falls back to the offline seed directions), the
 * first agent proposal meets a 429, the first reflection reply is cut off inside its ``` block, its
 * corrective retry meets a 500 and then an 8 MB reply (refused; the component keeps the parent's text).
 * The run completes, every request is in the ledger, the edits are applied and the store stays small.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import { afterAll, beforeAll } from "vitest"
import { loadTemplateSync, type PromptTemplate } from "../../src/services/Prompts.ts"
import { type OpenAiServer, promptOf, type RecordedRequest, type ScriptedReply, startOpenAiServer, structuredFormatOf } from "../support/openaiServer.ts"
import { scriptedResearcher } from "../support/scriptedResearcher.ts"
import { configFor, makeProject, runPipeline } from "../support/pipeline.ts"

const hashOf = (name: string) => (loadTemplateSync(name) as PromptTemplate).hash

/** Misbehaves once at each step named in the header, in that order; answers like a model otherwise. */
const misbehaving = () => {
  const seen: Array<string> = []
  let seedDirections = 0
  let agentProposals = 0
  let reflections = 0
  const choose = (request: RecordedRequest): ScriptedReply => {
    const prompt = promptOf(request)
    const wrong = (what: string, reply: ScriptedReply) => (seen.push(what), reply)
    if (prompt.includes("Write a ranked list of 5 to 8 research directions") && !prompt.includes("This is proxy scenario")) {
      seedDirections += 1
      if (seedDirections === 1) return wrong("prose", { kind: "text", content: "I would start with the optimizer, then look at the learning rate and the width." })
      if (seedDirections === 2) return wrong("empty", { kind: "text", content: "" })
    }
    if (structuredFormatOf(request) !== undefined && ++agentProposals === 1) return wrong("429", { kind: "status", status: 429, body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } }) })
    if (prompt.includes("An assistant was given the following instructions")) {
      reflections += 1
      if (reflections === 1) return wrong("truncated fence", { kind: "text", content: "Here are the improved instructions:\n```\nPrefer optimizer changes first, and" })
      if (reflections === 2) return wrong("500", { kind: "status", status: 500 })
      if (reflections === 3) return wrong("8 MB", { kind: "text", content: `\`\`\`\n${"Be thorough. ".repeat(700_000)}\n\`\`\`` })
    }
    return { kind: "reply", respond: scriptedResearcher }
  }
  return { seen, reply: { kind: "route", choose } satisfies ScriptedReply }
}

describe("a run over a misbehaving model", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
  })
  afterAll(() => server.close())

  it.live("completes, records every request, applies edits and keeps the store small", () =>
    Effect.gen(function* () {
      const model = misbehaving()
      server.setFallback(model.reply)
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        model: `openai-compatible:scripted@${server.baseURL}`,
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
        executor: { kind: "local", gpus: "none" },
        stages: [
          { kind: "gepa", name: "outer", budget: { metricCalls: 15 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
          { kind: "code-search", name: "inner", budget: { experiments: 6 }, pipelining: false },
        ],
      })
      const run = runPipeline(config)
      const summary = yield* run.effect
      expect(summary.status).toBe("completed")
      expect(model.seen).toEqual(["prose", "empty", "429", "truncated fence", "500", "8 MB"])

      const db = new Database(config.store, { readonly: true })
      const calls = db.prepare("SELECT purpose, template_hash, error, length(response_text) AS stored FROM llm_calls ORDER BY id").all() as Array<{ purpose: string; template_hash: string | null; error: string | null; stored: number | null }>
      // every request is in the ledger, failed attempts included
      expect(calls).toHaveLength(server.requests.length)
      const seedCalls = calls.filter((call) => call.purpose === "gepa.seed-directions")
      expect(seedCalls.map((call) => [call.template_hash, call.error])).toEqual([
        [hashOf("gepa-seed-directions"), null],
        [hashOf("reply-correction"), "empty reply"],
      ])
      expect(calls.filter((call) => call.error?.includes("HTTP 429"))).toHaveLength(1)
      expect(calls.filter((call) => call.error?.includes("HTTP 500"))).toHaveLength(1)
      const refused = calls.filter((call) => call.error?.includes("over llm.maxReplyBytes (262144)"))
      expect(refused).toHaveLength(1)
      expect(refused[0]!.purpose).toBe("gepa.reflection")
      expect(refused[0]!.stored).toBeLessThanOrEqual(4096)

      // the stage went on with the offline seed directions, and after the refused retry kept the parent's text
      const outer = db.prepare("SELECT id, summary_json FROM stages WHERE name = 'outer' AND arm = 'hybrid'").get() as { id: number; summary_json: string }
      const seed = db.prepare("SELECT components_json FROM candidates WHERE stage_id = ? AND idx = 0").get(outer.id) as { components_json: string }
      expect(JSON.parse(seed.components_json)[1]).toEqual(["directions", expect.stringMatching(/^1\. tune \w+ \(now .+\)\n2\. tune /)])
      const events = db.prepare("SELECT message FROM events WHERE kind = 'llm-reply-fallback' ORDER BY id").all() as Array<{ message: string }>
      expect(events.map((event) => event.message)).toEqual([
        "outer: the model's seed directions were unusable twice (it has no list item: every direction must be a line of its own that starts with its rank, as \"1. ...\"; then it was empty); using the offline seed directions (every tunable constant, typical levers first)",
        expect.stringMatching(/^gepa iteration \d+: the reflection reply for \w+ was unusable twice \(it opens a ``` block it never closes, so it looks cut off; then it was far too long \(over the reply size limit\)\); keeping the parent's text$/),
      ])
      const fallback = db.prepare("SELECT accepted, reason FROM proposals WHERE stage_id = ? AND reason LIKE '%unusable twice%'").all(outer.id) as Array<{ accepted: number; reason: string }>
      expect(fallback).toHaveLength(1)
      expect(fallback[0]!.accepted).toBe(0)
      expect(run.lines.some((line) => line.includes("gepa iteration") && line.includes("keeping the parent's text"))).toBe(true)

      // both metric-call counts reach the summary and the report
      const counts = JSON.parse(outer.summary_json) as { metricCalls: number; evaluationsRun: number; referenceMetricCalls: number }
      expect(counts.metricCalls).toBe(counts.evaluationsRun)
      expect(counts.referenceMetricCalls).toBeGreaterThanOrEqual(counts.evaluationsRun)
      expect(fs.readFileSync(summary.reportFile!, "utf8")).toContain(`(budget counts evaluations run: ${counts.evaluationsRun} evaluations run, ${counts.referenceMetricCalls} at gepa's count)`)

      // the agents' edits were applied: proxy runs measured, and the inner stage kept an LLM edit
      const proxies = db.prepare("SELECT status FROM experiments WHERE stage_id = ? AND purpose = 'proxy'").all(outer.id) as Array<{ status: string }>
      expect(proxies.filter((row) => row.status === "measured").length).toBeGreaterThan(0)
      const kept = db.prepare("SELECT e.proposer FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.name = 'inner' AND e.status = 'keep'").all() as Array<{ proposer: string }>
      expect(kept.length).toBeGreaterThan(0)
      expect(kept.every((row) => row.proposer === "llm" || row.proposer === "handoff")).toBe(true)
      db.close()

      // the 8 MB reply is nowhere in the store
      const bytes = [config.store, `${config.store}-wal`].filter((file) => fs.existsSync(file)).reduce((sum, file) => sum + fs.statSync(file).size, 0)
      expect(bytes).toBeLessThan(1024 * 1024)
    }))
})
