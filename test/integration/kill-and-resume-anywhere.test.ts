/**
 * Kill `twoloop run` with SIGKILL at many points of a real hybrid run (GEPA over proxy runs, then code
 * search, both talking to a local OpenAI-compatible server), then `twoloop resume`. Every time the run
 * completes with exactly the bookkeeping of an uninterrupted run: no experiment, candidate or proposal lost
 * or counted twice; the inner branch's HEAD is the recorded best and holds exactly the kept commits.
 *
 * LLM calls in flight are reached by watching from outside (the server kills the run when the request
 * arrives); every other point is hit with a failpoint (src/services/failpoints.ts), so no point depends on
 * how fast the machine is.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { type OpenAiServer, startOpenAiServer } from "../support/openaiServer.ts"
import { makeProject } from "../support/pipeline.ts"
import type { RecordedRequest } from "../support/openaiServer.ts"
import { lastMessage, scriptedResearcher } from "../support/scriptedResearcher.ts"

/**
 * The research LLM of this test: its seed directions put a harmful move first, its agent follows the first
 * direction it is given, and its reflection demotes the harmful move, so GEPA accepts a child candidate.
 */
const researcher = (request: RecordedRequest) => {
  const prompt = lastMessage(request)
  if (prompt.includes("Write a ranked list of 5 to 8 research directions")) return "1. halve WIDTH\n2. switch OPTIMIZER to adam\n3. enable USE_NORM\n4. increase LEARNING_RATE"
  if (prompt.includes("An assistant was given the following instructions")) {
    const current = /```\n([\s\S]*?)\n```/.exec(prompt)?.[1] ?? ""
    if (!/^1\. /.test(current)) return scriptedResearcher(request)
    const lines = current.split("\n").filter((line) => /^\d+\. /.test(line)).map((line) => line.replace(/^\d+\. /, ""))
    const ranked = [...lines.filter((line) => !line.includes("WIDTH")), ...lines.filter((line) => line.includes("WIDTH"))]
    return `Demote what hurt:\n\`\`\`\n${ranked.map((line, i) => `${i + 1}. ${line}`).join("\n")}\n\`\`\``
  }
  if (request.body.response_format?.type === "json_schema") {
    const first = /# Research directions[\s\S]*?\n1\. ([^\n]*)/.exec(prompt)?.[1] ?? ""
    if (first.includes("WIDTH") && prompt.includes("const WIDTH = 16"))
      return JSON.stringify({ direction: "width", rationale: "a smaller model trains faster", description: "halve the width", changes: [{ path: "train.mjs", kind: "replace", search: "const WIDTH = 16", replace: "const WIDTH = 8" }] })
  }
  return scriptedResearcher(request)
}

const configText = (baseURL: string, stages?: unknown) =>
  JSON.stringify(
    {
      name: "kill-resume",
      model: `openai-compatible:scripted@${baseURL}`,
      llm: { retries: 1, timeoutSeconds: 20 },
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
      executor: { kind: "local", gpus: "none" },
      stages: stages ?? [
        { kind: "gepa", name: "outer", budget: { metricCalls: 21 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } },
        { kind: "code-search", name: "inner", budget: { experiments: 6 }, pipelining: false },
      ],
    },
    null,
    2,
  )

interface Bookkeeping {
  readonly experiments: Array<unknown>
  readonly candidates: Array<unknown>
  readonly proposals: Array<unknown>
  readonly stages: Array<unknown>
}

const storeOf = (root: string) => path.join(root, ".twoloop/twoloop.db")

const read = <A>(store: string, f: (db: Database.Database) => A): A => {
  const db = new Database(store, { readonly: true })
  try {
    return f(db)
  } finally {
    db.close()
  }
}

const bookkeeping = (store: string): Bookkeeping =>
  read(store, (db) => ({
    experiments: db
      .prepare(`SELECT s.name AS stage, e.seq, e.purpose, e.status, round(e.metric, 6) AS metric, e.description, e.seed FROM experiments e JOIN stages s ON s.id = e.stage_id ORDER BY s.position, e.seq`)
      .all(),
    candidates: db.prepare(`SELECT idx, origin, parent1, parent2, components_json FROM candidates ORDER BY stage_id, idx`).all(),
    proposals: db.prepare(`SELECT iteration, accepted, reason FROM proposals ORDER BY stage_id, iteration`).all(),
    stages: db.prepare(`SELECT name, status FROM stages ORDER BY position`).all(),
  }))

const runIdOf = (store: string) => read(store, (db) => (db.prepare("SELECT id FROM runs").get() as { id: string }).id)

const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

/** The inner stage's branch is at its recorded best commit and holds exactly its kept commits. */
const expectHeadIsRecordedBest = (root: string, store: string) => {
  const { summary, keeps, base } = read(store, (db) => {
    const stage = db.prepare(`SELECT id, summary_json FROM stages WHERE name = 'inner'`).get() as { id: number; summary_json: string }
    const summary = JSON.parse(stage.summary_json) as { bestCommit: string; branches: Array<string>; baseCommit?: string }
    const keeps = (db.prepare(`SELECT result_commit FROM experiments WHERE stage_id = ? AND status = 'keep' ORDER BY seq`).all(stage.id) as Array<{ result_commit: string }>).map((r) => r.result_commit)
    const base = (db.prepare(`SELECT base_commit FROM experiments WHERE stage_id = ? AND purpose = 'baseline' LIMIT 1`).get(stage.id) as { base_commit: string }).base_commit
    return { summary, keeps, base }
  })
  for (const branch of summary.branches) expect(git(root, "rev-parse", branch), branch).toBe(summary.bestCommit)
  expect(keeps.at(-1) ?? base).toBe(summary.bestCommit)
  const onBranch = git(root, "rev-list", "--reverse", `${base}..${summary.branches[0]}`).split("\n").filter(Boolean)
  expect(onBranch).toEqual(keeps)
}

type KillPoint =
  | { readonly name: string; readonly failpoint: string }
  | { readonly name: string; readonly llmRequest: number }
  /** The nth experiment of a stage has started (its process is running and its row says so). */
  | { readonly name: string; readonly experimentRunning: { readonly stage: string; readonly nth: number } }

const points: ReadonlyArray<KillPoint> = [
  { name: "while the seed-directions LLM call is in flight", llmRequest: 1 },
  { name: "while an agent LLM call of the outer stage is in flight", llmRequest: 3 },
  { name: "after an LLM reply arrived, before the ledger write", failpoint: "llm-replied:4" },
  { name: "during a proxy experiment", experimentRunning: { stage: "outer", nth: 2 } },
  { name: "between a proxy experiment's end and its DB write", failpoint: "experiment-ended:3" },
  { name: "during the GEPA full evaluation of the seed", failpoint: "gepa-val-evaluation:1" },
  { name: "after a GEPA proposal was recorded", failpoint: "gepa-proposal-recorded:1" },
  { name: "during the stage handoff", failpoint: "stage-completed:1" },
  { name: "after the inner stage planned an experiment", failpoint: "proposal-planned:2" },
  { name: "during an inner experiment", experimentRunning: { stage: "inner", nth: 3 } },
  { name: "after a keep commit, before the DB recorded it", failpoint: "kept-commit:1" },
  { name: "between an inner experiment's end and its DB write", failpoint: "experiment-ended:12" },
]

describe("kill -9 anywhere, then resume", () => {
  let server: OpenAiServer
  let expected: Bookkeeping
  /** Per stage, how many of its experiments started a process in the uninterrupted run (a proxy run that reuses an identical earlier one starts none). */
  let startedPerStage: Map<string, number>
  /** Called with each request the server receives; set per test. */
  let onRequest: (n: number) => void = () => {}
  let requests = 0

  /** How many experiments the run has started once the nth of `stage` starts (stages run one after the other, their experiments one at a time). */
  const experimentsStarted = ({ stage, nth }: { readonly stage: string; readonly nth: number }) => {
    const stages = (expected.stages as Array<{ name: string }>).map((s) => s.name)
    const before = stages.slice(0, stages.indexOf(stage)).reduce((sum, name) => sum + (startedPerStage.get(name) ?? 0), 0)
    return before + nth
  }

  beforeAll(async () => {
    server = await startOpenAiServer()
    server.setFallback({
      kind: "reply",
      respond: (request) => {
        requests += 1
        onRequest(requests)
        return researcher(request)
      },
    })
    const { root } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(path.join(root, "pipeline.config.json"), configText(server.baseURL))
    const run = await twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: root, timeout: 600_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    expected = bookkeeping(storeOf(root))
    startedPerStage = new Map(
      read(storeOf(root), (db) => db.prepare(`SELECT s.name AS stage, count(*) AS n FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE e.started_at IS NOT NULL GROUP BY s.name`).all() as Array<{ stage: string; n: number }>).map((r) => [r.stage, r.n]),
    )
    expectHeadIsRecordedBest(root, storeOf(root))
    console.log(`uninterrupted: ${expected.experiments.length} experiments, ${expected.candidates.length} candidates, ${expected.proposals.length} proposals`)
    expect(expected.candidates.length).toBeGreaterThan(1)
  }, 600_000)
  afterAll(() => server.close())

  it.each(points)("$name", async (point) => {
    const { root } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(path.join(root, "pipeline.config.json"), configText(server.baseURL))
    const store = storeOf(root)
    const env: Record<string, string> =
      "failpoint" in point ? { TWOLOOP_FAILPOINT: point.failpoint } : "experimentRunning" in point ? { TWOLOOP_FAILPOINT: `experiment-running:${experimentsStarted(point.experimentRunning)}` } : {}
    const run = twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: root, env, timeout: 600_000 })
    let killed = false
    const kill = () => {
      if (!killed) run.kill("SIGKILL")
      killed = true
    }
    requests = 0
    if ("llmRequest" in point) onRequest = (n) => n === point.llmRequest && kill()
    const first = await run
    onRequest = () => {}
    expect(first.signal, `the run was killed (${point.name})\n${first.all}`).toBe("SIGKILL")
    expect(read(store, (db) => (db.prepare("SELECT status FROM runs").get() as { status: string }).status)).toBe("running")

    const resumed = await twoloop(["resume", runIdOf(store), "--config", "pipeline.config.json"], { cwd: root, timeout: 600_000 })
    expect(resumed.exitCode, String(resumed.all)).toBe(0)
    expect(read(store, (db) => (db.prepare("SELECT status FROM runs").get() as { status: string }).status)).toBe("completed")
    expect(bookkeeping(store)).toEqual(expected)
    expectHeadIsRecordedBest(root, store)
  })
})
