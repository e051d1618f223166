/**
 * Training scripts as people write them, run under twoloop offline with nothing but a pipeline.config.ts
 * (test/fixtures/python-trainer: argparse flags with defaults, a dataclass model config, a periodic
 * `step N train loss: X test loss: Y` line, a loop that only stops at --max-steps; and a variant configured
 * by a YAML file with key=value overrides). Through the real CLI: the tunables are found, what the command
 * sets is left alone (with a warning), every edit changes the measured metric, and only gains that clear
 * the noise gate are kept. The fixture is plain Python (no dependencies) and deterministic given its seed.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { type OpenAiServer, promptOf, startOpenAiServer, structuredFormatOf } from "../support/openaiServer.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { pythonWith, skipWithout } from "../support/python.ts"
import { tempDir } from "../support/tmp.ts"

/** A git repository holding the fixture in `target/` and the given pipeline.config.ts. */
const project = (config: string) => {
  const root = tempDir("twoloop-python-")
  fs.cpSync(fixtureDir("python-trainer"), path.join(root, "target"), { recursive: true })
  fs.writeFileSync(path.join(root, "pipeline.config.ts"), config)
  const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: root, stdio: "pipe" }).toString()
  git("init", "--quiet")
  git("add", "--all")
  git("commit", "--quiet", "-m", "initial")
  return { root, git }
}

const configFile = (target: string, stages: string, top = "") => `import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "python-trainer",
  ${top}
  target: ${target},
  executor: { kind: "local", gpus: "none" },
  stages: ${stages},
})
`

const argparseTarget = (command: string) => `{
    dir: "target",
    editable: ["train.py"],
    command: ${JSON.stringify(command)},
    metric: { name: "test_loss", direction: "minimize", pattern: "test loss: (\\\\S+)" },
    timeBudgetSeconds: 60,
  }`

interface Row {
  seq: number
  purpose: string
  status: string
  metric: number | null
  seed: number
  description: string | null
  edit_json: string | null
  judgement_json: string | null
  reason: string | null
}

const rowsOf = (store: string, stage: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT e.* FROM experiments e JOIN stages s ON s.id = e.stage_id WHERE s.name = ? ORDER BY e.seq").all(stage) as Array<Row>
  db.close()
  return rows
}

/** Every judged candidate ran at the baseline's seed: a metric equal to that baseline's would mean the edit did nothing. */
const expectEveryEditToTakeEffect = (rows: ReadonlyArray<Row>) => {
  const baseline = rows.find((r) => r.purpose === "baseline" && r.seed === 0)!
  const judged = rows.filter((r) => r.purpose === "candidate" && (r.status === "keep" || r.status === "discard"))
  expect(judged.length).toBeGreaterThan(2)
  // Once an edit is kept the incumbent changes; compare each candidate with the metric of its own base (the previous keep's run, or the baseline).
  let base = baseline.metric
  for (const row of rows.filter((r) => r.purpose === "candidate")) {
    if (row.status === "keep" || row.status === "discard") expect(row.metric, `${row.description} changed nothing`).not.toBe(base)
    if (row.status === "keep") base = row.metric
  }
}

/** Keeps cleared the gate, discards did not. */
const expectNoiseGating = (rows: ReadonlyArray<Row>) => {
  for (const row of rows.filter((r) => r.judgement_json !== null && (r.status === "keep" || r.status === "discard"))) {
    const judgement = JSON.parse(row.judgement_json!) as { improvement: number; gate: number; sigma: number }
    expect(judgement.sigma).toBeGreaterThan(0)
    if (row.status === "keep") expect(judgement.improvement, row.description!).toBeGreaterThan(judgement.gate)
    else expect(judgement.improvement, row.description!).toBeLessThanOrEqual(judgement.gate)
  }
}

const python = pythonWith("dataclasses")!

describe.skipIf(skipWithout("dataclasses", "the python fixture tests"))("python training scripts as they are", () => {
  it("an argparse script with a dataclass config: tunables found, what the command sets left alone, edits take effect, gains gated", async () => {
    const command = `${python} train.py --max-steps 150 --batch-size 32 --seed $TWOLOOP_SEED`
    const { root, git } = project(
      configFile(
        argparseTarget(command),
        `[
    { kind: "gepa", name: "outer", budget: { metricCalls: 12 }, adapter: { kind: "research", scenarios: 3 } },
    { kind: "code-search", name: "inner", budget: { experiments: 9 } },
  ]`,
      ),
    )
    expect(python, "CI installs python3").toBeDefined()
    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 300_000 })
    const out = String(run.stdout)
    expect(run.exitCode, String(run.all)).toBe(0)
    // The tunables are listed, batch_size is set aside with a warning, the budget is explained before the first proxy run.
    expect(out).toMatch(/tunables in train\.py \(\d+\): .*ModelConfig\.init_scale=0\.1.*learning_rate=0\.5, weight_decay=0\.01/)
    expect(out).toMatch(/set aside \d+: ModelConfig\.n_embd, .*batch_size/)
    expect(out).toContain("warning: batch_size (train.py:")
    expect(out).toContain("is set by target.command (--batch-size 32); twoloop does not edit it")
    const lines = out.split("\n")
    const budget = lines.findIndex((l) => /outer: gepa over 3 train \/ 3 validation examples .* pays for the seed's validation \(3 calls\) and at least 1 iteration/.test(l))
    const firstProxy = lines.findIndex((l) => /outer proxy #1 baseline of scenario s0 \(seed 1000, 12 s\): test_loss \d/.test(l))
    const seedScored = lines.findIndex((l) => l.includes("gepa: seed scores"))
    expect(budget).toBeGreaterThan(-1)
    expect(firstProxy).toBeGreaterThan(budget)
    expect(seedScored).toBeGreaterThan(firstProxy)
    expect(out).not.toContain("ignores TWOLOOP_SEED")

    const store = path.join(root, ".twoloop/twoloop.db")
    // The prompt library gets the best candidate only when it evolved (it is not the seed itself).
    const db = new Database(store, { readonly: true })
    const best = (JSON.parse((db.prepare("SELECT summary_json FROM stages WHERE name = 'outer'").get() as { summary_json: string }).summary_json) as { bestCandidate: number }).bestCandidate
    db.close()
    if (best === 0) expect(out).toContain("outer: the best candidate is the seed itself; nothing evolved, nothing saved to the prompt library")
    else expect(out).toMatch(/saved the best evolved prompt as [0-9a-f]{12}/)
    const inner = rowsOf(store, "inner")
    const outer = rowsOf(store, "outer")
    for (const row of [...inner, ...outer].filter((r) => r.edit_json)) {
      expect(row.description).not.toMatch(/batch_size|seed|max_steps|num_workers|n_embd 4 -> 8.*ModelConfig/)
      expect(row.edit_json).not.toContain("default=32")
    }
    expectEveryEditToTakeEffect(inner)
    expectNoiseGating(inner)
    const kept = inner.filter((r) => r.status === "keep")
    expect(kept.length).toBeGreaterThan(0)
    // The kept edits are commits on the run's branch, and the user's checkout is untouched.
    const branch = git("branch", "--list", "twoloop/*/inner-w0").trim().replace(/^[*+ ]+/, "")
    expect(git("log", "--format=%s", branch)).toContain(kept[0]!.description!)
    expect(git("status", "--porcelain").trim()).toBe("")
  }, 300_000)

  it.skipIf(skipWithout("yaml", "the YAML variant"))("a YAML-configured variant: leaves are tuned, a key=value override on the command is left alone", async () => {
    const command = `${pythonWith("yaml")} train_from_yaml.py --config config.yaml train.max_steps=150 optim.batch_size=16 --seed $TWOLOOP_SEED`
    const { root } = project(
      configFile(
        `{
    dir: "target",
    editable: ["config.yaml"],
    readonly: ["train_from_yaml.py", "train.py"],
    command: ${JSON.stringify(command)},
    metric: { name: "test_loss", direction: "minimize", pattern: "test loss: (\\\\S+)" },
    timeBudgetSeconds: 60,
  }`,
        `[{ kind: "code-search", name: "inner", budget: { experiments: 8 } }]`,
      ),
    )
    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 300_000 })
    const out = String(run.stdout)
    expect(run.exitCode, String(run.all)).toBe(0)
    expect(out).toMatch(/tunables in config\.yaml \(7\): model\.type=lowrank, model\.n_embd=4, model\.init_scale=0\.1, model\.use_bias=false, optim\.name=sgd, optim\.lr=0\.5, optim\.weight_decay=0\.01/)
    expect(out).toContain("warning: optim.batch_size (config.yaml:11, yaml) is set by target.command (optim.batch_size=16)")
    const inner = rowsOf(path.join(root, ".twoloop/twoloop.db"), "inner")
    for (const row of inner.filter((r) => r.edit_json)) expect(row.description).not.toMatch(/batch_size|max_steps|eval_every/)
    expectEveryEditToTakeEffect(inner)
    expectNoiseGating(inner)
    // A YAML edit is a minimal replace: the comments of the file survive in the kept commit.
    const kept = inner.filter((r) => r.status === "keep")
    expect(kept.length).toBeGreaterThan(0)
    for (const row of kept) {
      const edit = JSON.parse(row.edit_json!) as { changes: Array<{ path: string; kind: string; search: string; replace: string }> }
      expect(edit.changes).toHaveLength(1)
      expect(edit.changes[0]).toMatchObject({ path: "config.yaml", kind: "replace" })
      expect(edit.changes[0]!.search.split("\n")).toHaveLength(1)
    }
  }, 300_000)

  it("reads the metric from a JSON file the run writes", async () => {
    const { root } = project(
      configFile(
        `{
    dir: "target",
    editable: ["train.py"],
    command: ${JSON.stringify(`${python} train.py --max-steps 60 --seed $TWOLOOP_SEED --metrics-file metrics.json`)},
    metric: { name: "test_loss", direction: "minimize", file: "metrics.json", key: "test.loss" },
    timeBudgetSeconds: 60,
  }`,
        `[{ kind: "code-search", name: "inner", budget: { experiments: 6 } }]`,
      ),
    )
    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 300_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    const inner = rowsOf(path.join(root, ".twoloop/twoloop.db"), "inner")
    expect(inner.filter((r) => r.purpose === "baseline").map((r) => [r.status, typeof r.metric])).toEqual([["measured", "number"], ["measured", "number"]])
    // The value is the file's, not stdout's: stdout prints it with 4 decimals, the file has full precision.
    expect(inner.some((r) => r.metric !== null && Number(r.metric.toFixed(4)) !== r.metric)).toBe(true)
    expectEveryEditToTakeEffect(inner)
  }, 300_000)

  it("baselines identical across seeds warn that the command ignores TWOLOOP_SEED", async () => {
    const { root } = project(configFile(argparseTarget(`${python} train.py --max-steps 60`), `[{ kind: "code-search", name: "inner", budget: { experiments: 3 } }]`))
    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 300_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    expect(String(run.stdout)).toMatch(
      /warning: inner: the 2 baseline runs with seeds 0, 1 all gave test_loss [\d.]+; the command probably ignores TWOLOOP_SEED, so the run-to-run noise is unknown .* e\.g\. `--seed \$TWOLOOP_SEED` in target\.command/,
    )
    const db = new Database(path.join(root, ".twoloop/twoloop.db"), { readonly: true })
    expect(db.prepare("SELECT COUNT(*) AS n FROM events WHERE kind = 'seeds-ignored'").get()).toEqual({ n: 1 })
    db.close()
  }, 300_000)
})

describe.skipIf(skipWithout("dataclasses", "the python agent test"))("the LLM agent on an argparse script", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer()
    // First an edit of a default the command overrides, then a real one.
    server.setFallback({
      kind: "reply",
      respond: (request) => {
        if (structuredFormatOf(request) === undefined) return "ok"
        const prompt = promptOf(request)
        const tried = prompt.split("# Recent experiments")[1] ?? ""
        const [search, replace, description] = tried.includes("bigger batches")
          ? ['"--learning-rate", "-l", type=float, default=0.5', '"--learning-rate", "-l", type=float, default=1.0', "learning rate 0.5 -> 1.0"]
          : ['"--batch-size", "-b", type=int, default=32', '"--batch-size", "-b", type=int, default=64', "bigger batches"]
        return JSON.stringify({ direction: "optimization", rationale: "try it", description, changes: [{ path: "train.py", kind: "replace", search, replace }] })
      },
    })
  })
  afterAll(() => server.close())

  it("sees the tunables and what the command sets; an edit that cannot take effect is rejected, never judged", async () => {
    const { root } = project(
      configFile(argparseTarget(`${python} train.py --max-steps 60 --batch-size 32 --seed $TWOLOOP_SEED`), `[{ kind: "code-search", name: "inner", budget: { experiments: 4 }, pipelining: false }]`, `model: "openai-compatible:scripted@${server.baseURL}",`),
    )
    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 300_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    const prompt = promptOf(server.requests.find((r) => structuredFormatOf(r) !== undefined)!)
    expect(prompt).toContain("# Tunables")
    expect(prompt).toMatch(/- learning_rate = 0\.5 \(train\.py:\d+, argparse --learning-rate\/-l\)/)
    expect(prompt).toMatch(/- batch_size \(train\.py:\d+\): the command sets it \(--batch-size 32\)/)
    const inner = rowsOf(path.join(root, ".twoloop/twoloop.db"), "inner")
    const batch = inner.find((r) => r.description === "bigger batches")!
    expect(batch.status).toBe("rejected")
    expect(batch.reason).toBe("the edit cannot take effect: it only changes batch_size, which the command sets (--batch-size 32)")
    expect(batch.metric).toBeNull()
    expect(inner.find((r) => r.description === "learning rate 0.5 -> 1.0")?.status).toMatch(/keep|discard/)
  }, 300_000)
})
