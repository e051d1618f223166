/**
 * A PyTorch training script as people write it (test/fixtures/torch-trainer: argparse flags with defaults,
 * a dataclass model config, `step N train loss: X test loss: Y` lines, a loop that stops only at
 * --max-steps) runs offline under twoloop, through the CLI, with nothing but a pipeline.config.ts: the
 * tunables are found, the flags the command passes are left alone, every edit changes the measured metric,
 * and only gains that clear the noise gate are kept. Needs python with torch (CI installs Debian's:
 * /usr/bin/python3); without it the test skips with the reason, except under CI=true, where it fails.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { pythonWith, skipWithout } from "../support/python.ts"
import { tempDir } from "../support/tmp.ts"

describe.skipIf(skipWithout("torch", "the PyTorch script test"))("a PyTorch script as it is", () => {
  it("is tuned offline from its argparse defaults and dataclass fields, leaving the command's flags alone", async () => {
    const python = pythonWith("torch")
    expect(python, "CI must install python3-torch (see .ci/run)").toBeDefined()
    const root = tempDir("twoloop-torch-")
    fs.cpSync(fixtureDir("torch-trainer"), path.join(root, "target"), { recursive: true })
    fs.writeFileSync(
      path.join(root, "pipeline.config.ts"),
      `import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "torch-trainer",
  target: {
    dir: "target",
    editable: ["train.py"],
    command: "${python} train.py --max-steps 150 --batch-size 32 --seed $TWOLOOP_SEED",
    metric: { name: "test_loss", direction: "minimize", pattern: "test loss: (\\\\S+)" },
    timeBudgetSeconds: 120,
    env: { OMP_NUM_THREADS: "1" },
  },
  executor: { kind: "local", gpus: "none" },
  stages: [
    { kind: "gepa", name: "outer", budget: { metricCalls: 12 }, adapter: { kind: "research", scenarios: 3 } },
    { kind: "code-search", name: "inner", budget: { experiments: 8 } },
  ],
})
`,
    )
    const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: root, stdio: "pipe" }).toString()
    git("init", "--quiet")
    git("add", "--all")
    git("commit", "--quiet", "-m", "initial")

    const run = await twoloop(["run"], { cwd: root, env: { TWOLOOP_HOME: tempDir() }, timeout: 600_000 })
    const out = String(run.stdout)
    expect(run.exitCode, String(run.all)).toBe(0)
    expect(out).toMatch(/tunables in train\.py \(\d+\): .*ModelConfig\.n_hidden=32, ModelConfig\.dropout=0\.0, type="mlp", n_embd=16, learning_rate=1e-3, weight_decay=0\.01/)
    expect(out).toMatch(/set aside \d+: .*ModelConfig\.n_embd.*batch_size/)
    expect(out).toContain("is set by target.command (--batch-size 32); twoloop does not edit it")
    expect(out).not.toContain("ignores TWOLOOP_SEED")

    const db = new Database(path.join(root, ".twoloop/twoloop.db"), { readonly: true })
    const rows = db.prepare("SELECT e.*, s.name AS stage FROM experiments e JOIN stages s ON s.id = e.stage_id ORDER BY s.id, e.seq").all() as Array<Record<string, any>>
    db.close()
    for (const row of rows.filter((r) => r.edit_json)) expect(row.description).not.toMatch(/^(batch_size|seed|max_steps|num_workers|ModelConfig\.n_embd) /)
    const inner = rows.filter((r) => r.stage === "inner")
    const baselines = inner.filter((r) => r.purpose === "baseline")
    expect(new Set(baselines.map((r) => r.metric)).size).toBe(2)
    // Every judged edit changed the metric measured at its base (same seed, deterministic on the CPU).
    let base = baselines.find((r) => r.seed === 0)!.metric
    const judged = inner.filter((r) => r.purpose === "candidate" && (r.status === "keep" || r.status === "discard"))
    expect(judged.length).toBeGreaterThan(2)
    for (const row of inner.filter((r) => r.purpose === "candidate")) {
      if (row.status === "keep" || row.status === "discard") expect(row.metric, `${row.description} changed nothing`).not.toBe(base)
      if (row.status === "keep") base = row.metric
    }
    for (const row of judged) {
      const judgement = JSON.parse(row.judgement_json) as { improvement: number; gate: number; sigma: number }
      expect(judgement.sigma).toBeGreaterThan(0)
      if (row.status === "keep") expect(judgement.improvement).toBeGreaterThan(judgement.gate)
      else expect(judgement.improvement).toBeLessThanOrEqual(judgement.gate)
    }
    // At 150 steps the default learning rate (1e-3) is too low: the search finds a real gain.
    expect(inner.filter((r) => r.status === "keep").length).toBeGreaterThan(0)
  }, 600_000)
})
