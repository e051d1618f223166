/**
 * The search-quality benchmark's Optuna peer on a script that reads no TARGET_PARAMS (like tiny-lm): it
 * writes each trial's values into the script's `const NAME = value` lines, runs the real command with the
 * job's environment, and reads the named metric line; a crash is a failed trial. And the TypeScript side's
 * rewrite of the same lines, which the judge uses, agrees with it.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { setConstants } from "../../bench/targets/tinyLm.ts"
import { pythonWith, skipWithout } from "../support/python.ts"
import { tempDir } from "../support/tmp.ts"

const peer = path.resolve(import.meta.dirname, "../../bench/optuna/peer.py")

const script = `// a training script with its hyperparameters as constants
const LEARNING_RATE = 0.1 // peak learning rate
const OPTIMIZER = "sgd" // one of: "sgd", "adam"
const WIDTH = 64
if (WIDTH > 200) throw new Error("out of memory")
const value = (Math.log10(LEARNING_RATE) + 2) ** 2 + (OPTIMIZER === "adam" ? 0 : 1) + WIDTH / 1000 + Number(process.env.EXTRA)
console.log("loss: 99")
console.log(\`val_bpb: \${value}\`)
console.log(\`seed: \${process.env.TWOLOOP_SEED} budget: \${process.env.TWOLOOP_TIME_BUDGET}\`)
`
const expected = (p: { LEARNING_RATE: number; OPTIMIZER: string; WIDTH: number }) => (Math.log10(p.LEARNING_RATE) + 2) ** 2 + (p.OPTIMIZER === "adam" ? 0 : 1) + p.WIDTH / 1000 + 0.5

describe("the Optuna peer, rewriting the script's constants", () => {
  it.skipIf(skipWithout("optuna", "the Optuna peer's edit mode"))("runs each trial's values through the script and reads the named metric", () => {
    const project = tempDir("twoloop-peer-")
    fs.writeFileSync(path.join(project, "train.mjs"), script)
    const job = {
      project,
      command: `${JSON.stringify(process.execPath)} train.mjs`,
      metric: "val_bpb",
      env: { EXTRA: "0.5" },
      apply: "edit",
      file: "train.mjs",
      space: { LEARNING_RATE: { low: 1e-4, high: 1, log: true }, OPTIMIZER: { choices: ["sgd", "adam"] }, WIDTH: { low: 16, high: 400, int: true } },
      defaults: { LEARNING_RATE: 0.1, OPTIMIZER: "sgd", WIDTH: 64 },
      sampler: "random",
      seeds: [3],
      trials: 12,
      budget: 4,
    }
    const result = spawnSync(pythonWith("optuna")!, [peer], { input: JSON.stringify(job), encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    const [{ seed, trials }] = (JSON.parse(result.stdout) as { seeds: Array<{ seed: number; trials: Array<{ params: { LEARNING_RATE: number; OPTIMIZER: string; WIDTH: number }; value: number | null }> }> }).seeds
    expect(seed).toBe(3)
    expect(trials).toHaveLength(12)
    // the defaults go first, then sampled values, each written into the script before its run
    expect(trials[0]).toEqual({ params: job.defaults, value: expected(job.defaults) })
    for (const trial of trials) {
      if (trial.params.WIDTH > 200) expect(trial.value, JSON.stringify(trial.params)).toBeNull()
      else expect(trial.value!, JSON.stringify(trial.params)).toBeCloseTo(expected(trial.params), 9)
    }
    expect(new Set(trials.map((t) => t.params.LEARNING_RATE)).size).toBe(12)
    expect(trials.some((t) => t.value === null)).toBe(true)
  })

  it("the judge's rewrite sets each named constant, keeps comments and refuses a name the script lacks", () => {
    const edited = setConstants(script, { LEARNING_RATE: 0.003, OPTIMIZER: "adam" })
    expect(edited).toContain("const LEARNING_RATE = 0.003 // peak learning rate\n")
    expect(edited).toContain('const OPTIMIZER = "adam" // one of: "sgd", "adam"\n')
    expect(edited).toContain("const WIDTH = 64\n")
    expect(edited.split("\n")).toHaveLength(script.split("\n").length)
    expect(() => setConstants(script, { MOMENTUM: 0.9 })).toThrow("tiny-lm: train.mjs has no constant MOMENTUM")
  })
})
