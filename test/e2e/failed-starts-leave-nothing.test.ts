/**
 * A start that cannot work is refused before anything exists: config, target and budget problems are all
 * listed (one line each, naming the file and the key), the exit is non-zero, and the user's repository has
 * no new branch or worktree, the project no store and no run directory. Through the real CLI.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const target = (overrides: Record<string, unknown> = {}) => ({
  dir: "target",
  editable: ["train.mjs"],
  readonly: ["prepare.mjs"],
  command: "node train.mjs",
  metric: { name: "loss", direction: "minimize" },
  timeBudgetSeconds: 5,
  ...overrides,
})

/** A git repository with the quadratic fixture in target/ and `config` as pipeline.config.json (or `file`). */
const project = (config: unknown, file = "pipeline.config.json", fixture = "quadratic-target") => {
  const root = tempDir("twoloop-preflight-")
  fs.cpSync(fixtureDir(fixture), path.join(root, "target"), { recursive: true })
  fs.writeFileSync(path.join(root, file), typeof config === "string" ? config : JSON.stringify(config, null, 2))
  const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: root, stdio: "pipe" }).toString()
  git("init", "--quiet")
  git("add", "--all")
  git("commit", "--quiet", "-m", "initial")
  return { root, git, file: path.join(root, file) }
}

const refused = async (root: string, git: (...args: Array<string>) => string, args: Array<string> = ["run"]) => {
  const result = await twoloop(args, { cwd: root, env: { TWOLOOP_HOME: tempDir() } })
  expect(result.exitCode, String(result.all)).toBe(1)
  expect(String(result.stdout)).toBe("")
  expect(fs.existsSync(path.join(root, ".twoloop"))).toBe(false)
  expect(git("branch", "--list", "twoloop/*").trim()).toBe("")
  expect(git("worktree", "list").trim().split("\n")).toHaveLength(1)
  return String(result.stderr).trim().split("\n")
}

describe.concurrent("failed starts leave nothing", () => {
  it("lists every target and budget problem at once, before any run row, branch or worktree", async () => {
    const { root, git, file } = project({
      name: "preflight",
      target: target({ editable: ["train.mjs", "model.mjs"], readonly: ["prepare.mjs", "eval.mjs"], command: "node train.mjs && no-such-evaluator --quick" }),
      executor: { kind: "local", gpus: "none" },
      stages: [
        { kind: "gepa", name: "outer", budget: { metricCalls: 2 }, adapter: { kind: "research", scenarios: 3 } },
        { kind: "code-search", name: "inner", budget: { experiments: 2 } },
      ],
    })
    const lines = await refused(root, git)
    expect(lines).toEqual([
      `twoloop: ${file}: target.editable[1]: model.mjs does not exist in ${path.join(root, "target")}`,
      `twoloop: ${file}: target.readonly[1]: eval.mjs does not exist in ${path.join(root, "target")}`,
      `twoloop: ${file}: target.command: no-such-evaluator is not on PATH`,
      `twoloop: ${file}: stages[0].budget.metricCalls: the metric-call budget 2 cannot pay for the seed's validation (3 calls) and one iteration (up to 9); give at least 12`,
      `twoloop: ${file}: stages[1].budget.experiments: 2 pays for the 2 baseline runs (baselineRuns) and no candidate; give at least 3`,
    ])
  })

  it("resolves the command's programs with target.env (PATH) and checks the script an interpreter runs", async () => {
    const { root, git, file } = project({
      name: "preflight",
      target: target({ command: "${TRAINER:-node} trian.mjs", env: { PATH: "/nonexistent" } }),
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
    })
    expect(await refused(root, git)).toEqual([`twoloop: ${file}: target.command: node is not on PATH (target.env.PATH)`])
    const fixed = project({
      name: "preflight",
      target: target({ command: "${TRAINER:-node} trian.mjs", env: { TRAINER: process.execPath } }),
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 } }],
    })
    expect(await refused(fixed.root, fixed.git)).toEqual([`twoloop: ${fixed.file}: target.command: ${path.basename(process.execPath)} runs trian.mjs, which does not exist in ${path.join(fixed.root, "target")}`])
  })

  it("nothing to tune offline: one line naming the editable files and what was looked for", async () => {
    const { root, git, file } = project({
      name: "preflight",
      target: target({ editable: ["prepare.mjs"], readonly: ["train.mjs"] }),
      executor: { kind: "local", gpus: "none" },
      stages: [
        { kind: "gepa", name: "outer", budget: { metricCalls: 12 }, adapter: { kind: "research" } },
        { kind: "code-search", name: "inner", budget: { experiments: 4 } },
      ],
    })
    expect(await refused(root, git)).toEqual([
      `twoloop: ${file}: target.editable: nothing to tune offline in prepare.mjs: looked for UPPER_CASE constants, argparse defaults, dataclass/config-class fields, YAML/JSON leaves. Add one, or set model to an LLM so an agent edits the code`,
    ])
  })

  it("config errors list every problem, up to ten, one line each", async () => {
    const { root, git, file } = project({
      name: "errors",
      sotre: "x.db",
      model: "gpt-4",
      target: target({ metric: { name: "loss", direction: "minimise", pattern: "loss (\\S+) (\\S+)" } }),
      stages: [{ kind: "code-search", budget: { experiments: "ten" }, wrokers: 2 }, { kind: "code-serch" }],
    })
    const lines = await refused(root, git)
    expect(lines).toEqual(
      expect.arrayContaining([
        `twoloop: ${file}: sotre: unknown key (did you mean "store"?)`,
        expect.stringMatching(/^twoloop: .*: model: expected "offline", "openai:<model>"/),
        expect.stringMatching(/^twoloop: .*: target\.metric\.direction: expected "minimize" or "maximize", got "minimise"/),
        `twoloop: ${file}: target.metric.pattern: expected a regular expression with exactly one capture group around the value, e.g. "test loss: (\\S+)"; got 2 in "loss (\\\\S+) (\\\\S+)"`,
        `twoloop: ${file}: stages[0].budget.experiments: expected a positive integer, got "ten"`,
        `twoloop: ${file}: stages[0].wrokers: unknown key (did you mean "workers"?)`,
        expect.stringMatching(/^twoloop: .*: stages\[1\]\.kind: unknown stage kind "code-serch" \(did you mean "code-search"\?\)/),
      ]),
    )
    expect(lines).toHaveLength(7)
  })

  it("more than ten problems: ten lines and a count of the rest", async () => {
    const stages = Array.from({ length: 12 }, (_, i) => ({ kind: "code-search", name: `s${i}`, budget: { experiments: 0 } }))
    const { root, git, file } = project({ name: "many", target: target(), stages })
    const lines = await refused(root, git)
    expect(lines).toHaveLength(11)
    expect(lines[10]).toBe(`twoloop: ${file}: (and 2 more problems)`)
  })

  it("a config file type twoloop does not read names the ones it does", async () => {
    const { root, git, file } = project("name: yaml-config\n", "pipeline.config.yaml")
    expect(await refused(root, git, ["run", "--config", "pipeline.config.yaml"])).toEqual([
      `twoloop: ${file}: unsupported config file type ".yaml"; use one of .ts, .mts, .cts, .mjs, .js, .cjs, .json (e.g. pipeline.config.ts exporting defineConfig({...}), or the same data as pipeline.config.json)`,
    ])
  })

  it("a metric file and a pattern together, or a metric file outside the target, are config errors naming the key", async () => {
    const { root, git, file } = project({
      name: "metric",
      target: target({ metric: { name: "loss", direction: "minimize", pattern: "loss: (\\S+)", file: "../metrics.json" } }),
      stages: [{ kind: "code-search", budget: { experiments: 4 } }],
    })
    expect(await refused(root, git)).toEqual([
      `twoloop: ${file}: target.metric: give pattern (read stdout) or file (read a JSON file the run writes), not both`,
      `twoloop: ${file}: target.metric.file: expected a path inside target.dir, got "../metrics.json"`,
    ])
  })
})
