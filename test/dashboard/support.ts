/**
 * Stores for the dashboard tests, produced by real short pipeline runs on the quadratic fixture target (real
 * SQLite, git worktrees, subprocesses): offline (no LLM), or with the scripted researcher behind the local
 * OpenAI-compatible server so the ledger has priced LLM calls and GEPA has reflection prompts. Also builds
 * the dashboard app in-process over a read-only handle, the way `openDashboard` does.
 */
import { Effect } from "effect"
import type { Hono } from "hono"
import { accessPolicy } from "../../src/dashboard/access.ts"
import { loadAssets } from "../../src/dashboard/assets.ts"
import { openReadOnly } from "../../src/dashboard/openDashboard.ts"
import { makeQueries } from "../../src/dashboard/queries.ts"
import { type ChangeFeed, changeFeed, dashboardApp } from "../../src/dashboard/server.ts"
import type { RunSummary } from "../../src/pipeline/runPipeline.ts"
import type { Db } from "../../src/services/store/open.ts"
import { startOpenAiServer } from "../support/openaiServer.ts"
import { configFor, makeProject, runPipeline } from "../support/pipeline.ts"
import { scriptedResearcher } from "../support/scriptedResearcher.ts"

export interface RealStore {
  readonly file: string
  readonly root: string
  /** Run ids, oldest first. */
  readonly runIds: ReadonlyArray<string>
}

export interface RunSpec {
  /** Use the scripted researcher over HTTP (LLM calls with prices) instead of the offline proposers. */
  readonly llm?: boolean
  /** Include the GEPA outer stage (and the inner-only arm). */
  readonly outer?: boolean
  readonly experiments?: number
  /** The outer stage's metric-call budget. */
  readonly metricCalls?: number
}

const target = { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 }

/** One project, one store, one real run per spec, in order. */
export const realStore = async (specs: ReadonlyArray<RunSpec> = [{}]): Promise<RealStore> => {
  const { root } = makeProject("quadratic-target", { git: true })
  const server = specs.some((spec) => spec.llm) ? await startOpenAiServer() : undefined
  server?.setFallback({ kind: "reply", respond: scriptedResearcher })
  try {
    let file = ""
    const runIds: Array<string> = []
    for (const spec of specs) {
      const config = configFor(root, {
        name: "dashboard-test",
        ...(spec.llm && server ? { model: `openai-compatible:scripted@${server.baseURL}`, prices: { "openai-compatible:scripted": { inputPerMillion: 1, outputPerMillion: 2 } } } : {}),
        target,
        executor: { kind: "local", gpus: "none" },
        arms: spec.outer ? ["hybrid", "inner-only"] : ["hybrid"],
        stages: [
          ...(spec.outer ? [{ kind: "gepa", name: "outer", budget: { metricCalls: spec.metricCalls ?? 15 }, adapter: { kind: "research", scenarios: 3, scoreRange: 2 } }] : []),
          { kind: "code-search", name: "inner", budget: { experiments: spec.experiments ?? 6 }, pipelining: false },
        ],
      })
      const summary = await Effect.runPromise(runPipeline(config).effect as Effect.Effect<RunSummary, unknown>)
      if (summary.status !== "completed") throw new Error(`the fixture run ended ${summary.status}`)
      runIds.push(summary.runId)
      file = config.store
    }
    return { file, root, runIds }
  } finally {
    await server?.close()
  }
}

export interface TestDashboard {
  readonly app: Hono
  readonly db: Db
  readonly changes: ChangeFeed
  readonly close: () => void
}

/** The dashboard app over a read-only handle, without a socket (requests go through `app.request`). */
export const testDashboard = (file: string, options: { token?: string; pollMs?: number } = {}): TestDashboard => {
  const db = openReadOnly(file)
  const queries = makeQueries(db, file)
  const changes = changeFeed(queries.version, options.pollMs ?? 50)
  const app = dashboardApp({ queries, policy: accessPolicy(options.token), assets: loadAssets(), changes })
  return {
    app,
    db,
    changes,
    close: () => {
      changes.close()
      db.close()
    },
  }
}

/** A request to the in-process app, addressed to a loopback host unless `url` names another. */
export const get = (dashboard: TestDashboard, path: string, init: RequestInit = {}) =>
  dashboard.app.request(path.startsWith("http") ? path : `http://127.0.0.1${path}`, init)

export const getJson = async (dashboard: TestDashboard, path: string): Promise<any> => {
  const response = await get(dashboard, path)
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return response.json()
}
