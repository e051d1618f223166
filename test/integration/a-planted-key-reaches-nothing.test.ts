/**
 * Secrets: a real hybrid run through the CLI with API keys and tokens planted in its environment, an LLM
 * server that echoes the key it was sent back inside its replies, and hostile experiments: each dumps its
 * whole environment, walks its ancestors' `/proc/<pid>/environ` (twoloop is its grandparent) and prints
 * every secret it finds there to stderr, and prints a key it learned elsewhere (a file) — crashing once it
 * runs with adam, so the log tail goes into the agent's fix prompt. Afterwards every byte twoloop wrote or
 * sent — the store (and its WAL), the library, logs, reports, results, the CLI's output, `report --format
 * json`, every LLM request body, dashboard views — and what the experiments found are scanned for the
 * planted values. The key must have been used (the server saw it in the Authorization header), and found
 * nowhere else.
 */
import Database from "better-sqlite3"
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

// The hostile part of the experiment: what it can find of twoloop's secrets, printed where twoloop keeps it.
const snoop = `
import * as fs from "node:fs"
const found = {}
let pid = process.ppid
while (pid > 1) {
  try {
    for (const entry of fs.readFileSync("/proc/" + pid + "/environ", "latin1").split("\\0")) {
      const [name, ...rest] = entry.split("=")
      if (/KEY|TOKEN|SECRET/.test(name) && rest.join("=")) found[pid + ":" + name] = rest.join("=")
    }
    pid = Number(/PPid:\\s+(\\d+)/.exec(fs.readFileSync("/proc/" + pid + "/status", "utf8"))[1])
  } catch { break }
}
fs.writeFileSync(process.env.DUMPS + "/snoop-" + process.env.TWOLOOP_EXPERIMENT_ID + ".json", JSON.stringify(found))
for (const [where, value] of Object.entries(found)) console.error("found " + where + "=" + value)
console.error("learned elsewhere: " + fs.readFileSync(process.env.LEAK_FILE, "utf8"))
if (fs.readFileSync("train.mjs", "utf8").includes('OPTIMIZER = "adam"')) { console.error("crashing to get a fix prompt"); process.exit(1) }
`

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
    const { root, target } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(path.join(target, "snoop.mjs"), snoop)
    const dumps = tempDir("twoloop-env-dumps-")
    const leakFile = path.join(tempDir("twoloop-leak-"), "key.txt")
    fs.writeFileSync(leakFile, planted.OPENAI_API_KEY)
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({
        name: "secrets",
        model: `openai-compatible:scripted@${server.baseURL}`,
        target: {
          dir: "target",
          editable: ["train.mjs"],
          readonly: ["prepare.mjs"],
          command: 'node snoop.mjs && FIXTURE_ENV_DUMP="$DUMPS/env-$TWOLOOP_EXPERIMENT_ID.json" node train.mjs',
          metric: { name: "loss", direction: "minimize" },
          timeBudgetSeconds: 5,
          env: { DUMPS: dumps, LEAK_FILE: leakFile },
        },
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

    const envDumps = filesUnder(dumps).filter((file) => path.basename(file).startsWith("env-"))
    expect(envDumps.length).toBeGreaterThan(0)
    // Every experiment snooped (those with adam crashed right after, before train.mjs dumped anything).
    const snooped = filesUnder(dumps).filter((file) => path.basename(file).startsWith("snoop-"))
    expect(snooped.length).toBeGreaterThanOrEqual(9)
    expect(snooped.length).toBeGreaterThan(envDumps.length)
    const scanned = [...filesUnder(path.join(root, ".twoloop")), ...filesUnder(home), ...envDumps, ...snooped]
    expect(scanned.some((file) => file.endsWith("twoloop.db"))).toBe(true)
    expect(scanned.some((file) => file.endsWith(".log"))).toBe(true)
    expect(scanned.some((file) => file.endsWith("report.md"))).toBe(true)
    // The crash put the experiment's stderr (with what it learned) into a fix prompt.
    const fixPrompts = server.requests.filter((request) => JSON.stringify(request.body).includes("crashing to get a fix prompt"))
    expect(fixPrompts.length).toBeGreaterThan(0)
    const texts = [
      ...scanned.map((file) => [file, fs.readFileSync(file).toString("latin1")] as const),
      ["run output", String(run.all)] as const,
      ["report json", String(report.all)] as const,
      ["prompts list", String(exported.all)] as const,
      ...server.requests.map((request, index) => [`LLM request ${index} (${request.path})`, JSON.stringify(request.body)] as const),
    ]
    const leaks = texts.flatMap(([where, text]) => Object.entries(planted).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${where}`))
    expect(leaks).toEqual([])
    expect(fixPrompts.some((request) => JSON.stringify(request.body).includes("learned elsewhere: [redacted]"))).toBe(true)
    // The experiments saw none of the secret variables, but did get their own.
    for (const file of envDumps) {
      const seen = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>
      expect(Object.keys(seen).filter((name) => name in planted)).toEqual([])
      expect(seen.TWOLOOP_TIME_BUDGET).toBeDefined()
    }
    // The echoed key reached the ledger only as a redaction marker.
    const ledger = texts.find(([where]) => where.endsWith("twoloop.db"))![1]
    expect(ledger).toMatch(/called with Bearer \[redacted/)

    // The dashboard redacts even what a store holds from elsewhere (an older twoloop, another machine).
    const store = path.join(root, ".twoloop", "twoloop.db")
    const db = new Database(store)
    const { id } = db.prepare("SELECT id FROM experiments ORDER BY id LIMIT 1").get() as { id: number }
    db.prepare("UPDATE experiments SET log_tail = ? WHERE id = ?").run(`an old tail with ${planted.HF_TOKEN} in it`, id)
    db.close()
    const dashboard = twoloop(["dashboard", "--store", store, "--port", "0"], { cwd: root, env, timeout: 120_000 })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let seen = ""
        dashboard.stdout!.on("data", (chunk: Buffer) => {
          seen += String(chunk)
          const match = /dashboard: (http:\/\/\S+)/.exec(seen)
          if (match) resolve(match[1]!)
        })
        dashboard.once("exit", () => reject(new Error(`the dashboard exited: ${seen}`)))
      })
      const views = await Promise.all([`/api/runs/${runId}`, `/api/runs/${runId}/experiments`, `/api/experiments/${id}`, `/api/runs/${runId}/llm`].map(async (view) => [view, await (await fetch(new URL(view, url))).text()] as const))
      expect(views.find(([view]) => view === `/api/experiments/${id}`)![1]).toContain("an old tail with [redacted] in it")
      expect(views.flatMap(([view, text]) => Object.entries(planted).filter(([, value]) => text.includes(value)).map(([name]) => `${name} in ${view}`))).toEqual([])
    } finally {
      dashboard.kill("SIGTERM")
      await dashboard
    }
  })
})
