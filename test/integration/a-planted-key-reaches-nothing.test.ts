/**
 * Secrets: a real hybrid run through the CLI with API keys and tokens planted in its environment, an LLM
 * server that echoes the key it was sent back inside its replies, and experiments that dump their whole
 * environment. Afterwards every byte twoloop wrote — the store (and its WAL), the library, logs, reports,
 * results, the experiments' environment dumps, the CLI's output, `report --format json` — is scanned for
 * the planted values. The key must have been used (the server saw it), and found nowhere else.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { type OpenAiServer, startOpenAiServer } from "../support/openaiServer.ts"
import { makeProject } from "../support/pipeline.ts"
import { scriptedResearcher } from "../support/scriptedResearcher.ts"
import { tempDir } from "../support/tmp.ts"

const planted = {
  TWOLOOP_API_KEY: "sk-planted-twoloop-9f8e7d6c5b4a",
  OPENAI_API_KEY: "sk-planted-openai-1a2b3c4d5e6f",
  HF_TOKEN: "hf_plantedtoken0123456789",
  WANDB_API_KEY: "planted-wandb-key-abcdef123456",
  AWS_SECRET_ACCESS_KEY: "planted/aws/secret/0987654321",
}

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name))
    : []

describe("secrets", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
    server.setFallback({
      kind: "reply",
      respond: (request) => {
        // A leaky model: it repeats the credentials it was called with.
        const sent = String(request.headers.authorization ?? "")
        const reply = scriptedResearcher(request)
        if (request.body.response_format?.type === "json_schema") {
          const edit = JSON.parse(reply) as { rationale: string }
          return JSON.stringify({ ...edit, rationale: `${edit.rationale} (called with ${sent})` })
        }
        return `${reply}\n(called with ${sent})`
      },
    })
  })
  afterAll(() => server.close())

  it("never writes a planted key or token anywhere, though the provider received it", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const dumps = tempDir("twoloop-env-dumps-")
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({
        name: "secrets",
        model: `openai-compatible:scripted@${server.baseURL}`,
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: 'FIXTURE_ENV_DUMP="$DUMPS/env-$TWOLOOP_EXPERIMENT_ID.json" node train.mjs', metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5, env: { DUMPS: dumps } },
        executor: { kind: "local", gpus: "none" },
        stages: [
          { kind: "gepa", name: "outer", budget: { metricCalls: 12 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
          { kind: "code-search", name: "inner", budget: { experiments: 4 }, pipelining: false },
        ],
      }),
    )
    const home = tempDir("twoloop-home-")
    const env = { ...planted, TWOLOOP_HOME: home }
    const run = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, env, timeout: 600_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    const runId = /run (\S+) completed/.exec(String(run.stdout))![1]!
    const report = await twoloop(["report", runId, "--format", "json", "--config", "pipeline.config.json"], { cwd: root, env })
    expect(report.exitCode, String(report.all)).toBe(0)
    const exported = await twoloop(["prompts", "list"], { cwd: root, env })

    // The key was really used: the provider got it in the Authorization header.
    expect(server.requests.length).toBeGreaterThan(5)
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${planted.TWOLOOP_API_KEY}`)).toBe(true)

    const envDumps = filesUnder(dumps)
    expect(envDumps.length).toBeGreaterThanOrEqual(9)
    const scanned = [...filesUnder(path.join(root, ".twoloop")), ...filesUnder(home), ...envDumps]
    expect(scanned.some((file) => file.endsWith("twoloop.db"))).toBe(true)
    expect(scanned.some((file) => file.endsWith(".log"))).toBe(true)
    expect(scanned.some((file) => file.endsWith("report.md"))).toBe(true)
    const texts = [...scanned.map((file) => [file, fs.readFileSync(file).toString("latin1")] as const), ["run output", String(run.all)] as const, ["report json", String(report.all)] as const, ["prompts list", String(exported.all)] as const]
    const leaks = texts.flatMap(([where, text]) => Object.entries(planted).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${where}`))
    expect(leaks).toEqual([])
    // The experiments saw none of the secret variables, but did get their own.
    for (const file of envDumps) {
      const seen = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>
      expect(Object.keys(seen).filter((name) => name in planted)).toEqual([])
      expect(seen.TWOLOOP_TIME_BUDGET).toBeDefined()
    }
    // The echoed key reached the ledger only as a redaction marker.
    const ledger = texts.find(([where]) => where.endsWith("twoloop.db"))![1]
    expect(ledger).toMatch(/called with Bearer \[redacted/)
  })
})
