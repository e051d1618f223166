import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Llm } from "../../../src/services/Llm.ts"
import { Workspace } from "../../../src/services/Workspace.ts"
import { applyEditGuarded } from "../../../stages/experiment-kit/runner.ts"
import { makeFilesAt } from "../../../stages/experiment-kit/targetWorkspace.ts"
import { isAlive } from "../../../src/services/executor/processTree.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"

const target = (overrides: Record<string, unknown> = {}) => ({
  dir: "target",
  editable: ["train.mjs"],
  readonly: ["prepare.mjs"],
  command: "node train.mjs",
  metric: { name: "loss", direction: "minimize" },
  timeBudgetSeconds: 5,
  ...overrides,
})

const edit = (description: string, changes: Array<Record<string, string>>) => JSON.stringify({ direction: "d", rationale: `because ${description}`, description, changes })
const replace = (file: string, search: string, replacement: string) => ({ path: file, kind: "replace", search, replace: replacement })

const makeWorkspaceForTest = () => Effect.runSync(Effect.service(Workspace).pipe(Effect.provide(Workspace.layer)))

const llmSettings = { timeoutSeconds: 5, retries: 0, cache: false, temperature: undefined, structuredOutputs: true, prices: {} }

const rowsOf = (store: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT * FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
  db.close()
  return rows
}

describe("code-search guards and outcomes", () => {
  it.live("rejects edits to readonly, non-editable and escaping paths, restores the workspace, and fixes a crash", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target", { git: true })
      const config = configFor(root, {
        model: "openai:mock",
        target: target(),
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 9 }, pipelining: false }],
      })
      const model = scriptedModel([
        edit("edit the harness", [replace("prepare.mjs", "const noise =", "const noise = 0 *")]),
        edit("edit the readme", [replace("README.md", "# Test target", "# Hacked")]),
        edit("escape the target", [replace("../target/prepare.mjs", "const noise =", "const noise = 0 *")]),
        edit("switch to adam", [replace("train.mjs", 'const OPTIMIZER = "sgd"', 'const OPTIMIZER = "adam"')]),
        edit("huge learning rate", [replace("train.mjs", "const LEARNING_RATE = 0.01", "const LEARNING_RATE = 2")]),
        edit("fix: moderate learning rate", [replace("train.mjs", "const LEARNING_RATE = 0.01", "const LEARNING_RATE = 0.02")]),
        edit("wider", [replace("train.mjs", "const WIDTH = 16", "const WIDTH = 32")]),
      ])
      const summary = yield* runPipeline(config, { llm: Llm.layerWith(llmSettings, () => model) }).effect
      expect(summary.status).toBe("completed")
      const rows = rowsOf(config.store)
      const bySeq = (seq: number) => rows.find((r) => r.seq === seq)!
      expect(bySeq(3)).toMatchObject({ status: "rejected", proposer: "llm", offline: 0 })
      expect(bySeq(3).reason).toContain("readonly")
      expect(bySeq(4).reason).toContain("not an editable file")
      expect(bySeq(5).reason).toContain("escapes the target")
      for (const seq of [3, 4, 5]) expect(JSON.parse(bySeq(seq).edit_json).rationale).toMatch(/^because/)
      expect(bySeq(6)).toMatchObject({ status: "keep", description: "switch to adam" })
      expect(bySeq(7)).toMatchObject({ status: "crash", description: "huge learning rate" })
      expect(bySeq(7).reason).toContain("not a finite number")
      expect(bySeq(7).log_tail).toContain("loss: NaN")
      expect(bySeq(8)).toMatchObject({ status: "keep", description: "fix: moderate learning rate", parent_id: bySeq(7).id })
      // the fix attempt was asked with the crash's log tail
      const fixPrompt = JSON.stringify(model.doGenerateCalls[5]!.prompt)
      expect(fixPrompt).toContain("Fix attempt 1 of 2")
      expect(fixPrompt).toContain("loss: NaN")
      // the harness in every worktree is untouched, and the user's checkout too
      const worktree = path.join(summary.runDir, "worktrees", "inner-w0", "target")
      expect(fs.readFileSync(path.join(worktree, "prepare.mjs"), "utf8")).toBe(fs.readFileSync(path.join(root, "target", "prepare.mjs"), "utf8"))
      expect(execFileSync("git", ["status", "--porcelain"], { cwd: worktree, encoding: "utf8" }).trim()).toBe("")
      expect(fs.readFileSync(path.join(root, "target", "README.md"), "utf8")).toBe("# Test target\n")
    }))

  it.live("refuses to start on a symlinked editable file, and the guard refuses edits through links", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target")
      fs.symlinkSync("prepare.mjs", path.join(root, "target", "alias.mjs"))
      const config = configFor(root, {
        target: target({ editable: ["train.mjs", "alias.mjs"] }),
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
      })
      const exit = yield* Effect.exit(runPipeline(config).effect)
      expect(String(Exit.isFailure(exit) && exit.cause)).toContain("alias.mjs is a symbolic link")

      // a link that appears in a worktree later is caught by the guard before anything is written
      const workspace = makeWorkspaceForTest()
      const setup = yield* workspace.setup({ runId: "r", stageName: "s", targetDir: path.join(root, "target"), runDir: path.join(root, "guard-run"), workers: 1 })
      const worktree = setup.worktrees[0]!
      fs.rmSync(path.join(worktree.targetPath, "train.mjs"))
      fs.symlinkSync("prepare.mjs", path.join(worktree.targetPath, "train.mjs"))
      const context = { runId: "r", target: config.target, setup, filesAt: makeFilesAt(workspace, setup, config.target), heads: new Map<string, string>(), readonlyHashes: new Map(), logDir: root, limits: { killFactor: 1, graceSeconds: 8, killGraceSeconds: 1 }, fingerprint: {} as never }
      const result = yield* applyEditGuarded(context, worktree, JSON.parse(edit("via link", [replace("train.mjs", "const noise =", "const noise = 0 *")])), setup.baseCommit).pipe(
        Effect.provideService(Workspace, workspace),
      )
      expect(result).toMatchObject({ ok: false, reason: expect.stringContaining("symbolic link") })
      expect(fs.readFileSync(path.join(worktree.targetPath, "prepare.mjs"), "utf8")).toContain("const noise = Number")
    }))

  it.live("kills a hanging experiment and its child at the hard limit and fails the stage clearly", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target")
      const config = configFor(root, {
        target: target({ timeBudgetSeconds: 1, env: { FIXTURE_HANG: "1" } }),
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 }, baselineRuns: 1, killFactor: 1, graceSeconds: 1 }],
      })
      const exit = yield* Effect.exit(runPipeline(config).effect)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) && exit.cause)).toContain("the baseline run failed (killed at the hard limit")
      const [row] = rowsOf(config.store)
      expect(row).toMatchObject({ status: "timeout", purpose: "baseline" })
      expect(row!.seconds).toBeGreaterThanOrEqual(2)
      expect(row!.seconds).toBeLessThan(8)
      const child = Number(/child (\d+)/.exec(fs.readFileSync(row!.log_path, "utf8"))![1])
      expect(isAlive(child)).toBe(false)
    }))

  it.live("never lets an API key reach the experiment, the store or the logs", () =>
    Effect.gen(function* () {
      const { root } = makeProject("quadratic-target")
      const dump = path.join(root, "env.json")
      const key = "sk-planted-key-for-leak-test-123456"
      const config = configFor(root, {
        target: target({ env: { FIXTURE_ENV_DUMP: dump } }),
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
      })
      process.env.OPENAI_API_KEY = key
      process.env.TWOLOOP_API_KEY = key
      process.env.HF_TOKEN = key
      try {
        yield* runPipeline(config).effect
      } finally {
        delete process.env.OPENAI_API_KEY
        delete process.env.TWOLOOP_API_KEY
        delete process.env.HF_TOKEN
      }
      const env = JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>
      expect(Object.values(env)).not.toContain(key)
      expect(env).toMatchObject({ TWOLOOP_TIME_BUDGET: "5", CUDA_VISIBLE_DEVICES: "" })
      const files = fs.readdirSync(path.join(root, ".twoloop"), { recursive: true }).map((f) => path.join(root, ".twoloop", String(f)))
      for (const file of files.filter((f) => fs.statSync(f).isFile())) expect(fs.readFileSync(file).includes(key)).toBe(false)
    }))
})
