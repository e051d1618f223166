/**
 * The whole hybrid pipeline through the official `openai:` provider (Responses API, strict structured
 * outputs), run by the real CLI as a user would: `OPENAI_API_KEY` and `OPENAI_BASE_URL` in the environment,
 * the base URL pointing at a local server that speaks the Responses API, checks the key and refuses schemas
 * OpenAI would refuse. The replies are scripted but realistic (they read the prompt).
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { type OpenAiServer, startOpenAiServer, structuredFormatOf } from "../support/openaiServer.ts"
import { strictSchemaViolations } from "../support/openaiStrictSchema.ts"
import { makeProject } from "../support/pipeline.ts"
import { scriptedResearcher } from "../support/scriptedResearcher.ts"
import { tempDir } from "../support/tmp.ts"

const key = "sk-proj-e2eOpenAiKey0123456789abcdef"

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name))
    : []

describe("the hybrid pipeline through the openai: provider", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer({ apiKey: key })
    server.setFallback({ kind: "reply", respond: scriptedResearcher })
  })
  afterAll(() => server.close())

  it("runs against OPENAI_BASE_URL: strict schemas accepted, proposals applied, every request in the ledger with tokens and cost, the key sent only there", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({
        name: "openai-e2e",
        model: "openai:gpt-4.1-mini",
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
        executor: { kind: "local", gpus: "none" },
        stages: [
          { kind: "gepa", name: "outer", budget: { metricCalls: 15 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
          { kind: "code-search", name: "inner", budget: { experiments: 5 }, pipelining: false },
        ],
      }),
    )
    const home = tempDir("twoloop-home-")
    const env = { OPENAI_API_KEY: key, OPENAI_BASE_URL: server.baseURL, TWOLOOP_HOME: home }
    const run = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, env, timeout: 300_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    const runId = /run (\S+) completed/.exec(String(run.stdout))![1]!
    const report = await twoloop(["report", runId, "--format", "json", "--config", "pipeline.config.json"], { cwd: root, env })
    expect(report.exitCode, String(report.all)).toBe(0)

    // Every request went to the Responses API of this server, with the key; structured ones were strict and valid.
    expect(server.requests.length).toBeGreaterThan(5)
    expect(server.requests.every((r) => r.path === "/v1/responses" && r.headers.authorization === `Bearer ${key}`)).toBe(true)
    const structured = server.requests.map(structuredFormatOf).filter((f) => f !== undefined)
    expect(structured.length).toBeGreaterThan(0)
    for (const format of structured) {
      expect(format).toMatchObject({ name: "edit", strict: true })
      expect(strictSchemaViolations(format.schema)).toEqual([])
    }

    // The ledger holds every request, each with tokens and a cost from the model's default price.
    const db = new Database(path.join(root, ".twoloop/twoloop.db"), { readonly: true })
    const calls = db.prepare("SELECT purpose, input_tokens, output_tokens, cost_usd, error FROM llm_calls WHERE run_id = ? ORDER BY id").all(runId) as Array<Record<string, any>>
    expect(calls).toHaveLength(server.requests.length)
    expect(calls.filter((c) => c.error !== null)).toEqual([])
    for (const call of calls) {
      expect(call.input_tokens).toBeGreaterThan(0)
      expect(call.output_tokens).toBeGreaterThan(0)
      expect(call.cost_usd).toBeCloseTo((call.input_tokens * 0.4 + call.output_tokens * 1.6) / 1e6, 12)
    }
    expect(new Set(calls.map((c) => c.purpose))).toEqual(new Set(["gepa.seed-directions", "gepa.agent-proposal", "gepa.reflection", "code-search.propose"]))

    // The agent's proposals were applied and measured, and the inner stage kept an improvement.
    const inner = db.prepare("SELECT e.* FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.name = 'inner' AND e.purpose = 'candidate'").all() as Array<Record<string, any>>
    const outerEdits = db.prepare("SELECT e.diff FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.name = 'outer' AND e.proposer = 'llm' AND e.diff IS NOT NULL").all() as Array<{ diff: string }>
    db.close()
    // The agent's edits that improved at the proxy budget were handed over and re-validated first, at the full
    // budget and through the keep gate: each handoff row changes the lines an agent edit changed in the outer stage.
    const handedOver = inner.filter((e) => e.proposer === "handoff")
    expect(handedOver.length, "agent edits re-validated by the inner stage").toBeGreaterThan(0)
    expect(inner.slice(0, handedOver.length).every((e) => e.proposer === "handoff")).toBe(true)
    const changedLines = (diff: string) => diff.split("\n").filter((line) => /^[+-](?![+-]{2} )/.test(line)).join("\n")
    for (const row of handedOver) {
      expect(changedLines(row.diff)).toMatch(/^-.*\n\+/)
      expect(outerEdits.map((o) => changedLines(o.diff))).toContain(changedLines(row.diff))
    }
    expect(inner.length).toBeGreaterThan(0)
    expect(inner.every((e) => (e.proposer === "llm" || e.proposer === "handoff") && e.offline === 0)).toBe(true)
    expect(inner.filter((e) => e.status === "keep").length).toBeGreaterThan(0)
    const gains = JSON.parse(String(report.stdout))
    expect(gains.inner.gain).toBeGreaterThan(0)
    // The report says which handed-over edits held at the full budget.
    expect(gains.inner.transfers.filter((t: { outcome: string }) => t.outcome !== "not run")).toHaveLength(handedOver.length)
    expect(gains.llm.calls).toBe(calls.length)
    expect(gains.llm.costUsd).toBeCloseTo(calls.reduce((sum, c) => sum + c.cost_usd, 0), 12)

    // The key is nowhere: not in the store, the logs, the report, the library or what the CLI printed.
    const scanned = [...filesUnder(path.join(root, ".twoloop")), ...filesUnder(home)]
    expect(scanned.some((file) => file.endsWith("report.md"))).toBe(true)
    expect(scanned.some((file) => file.endsWith(".log"))).toBe(true)
    const leaks = [...scanned.map((file) => [file, fs.readFileSync(file).toString("latin1")] as const), ["run output", String(run.all)] as const, ["report", String(report.all)] as const]
      .filter(([, text]) => text.includes(key))
      .map(([where]) => where)
    expect(leaks).toEqual([])
  })
})
