/**
 * tiny-lm (examples/tiny-lm) as a target of the search-quality benchmark. Under its usual time budget a
 * run's val_bpb depends on how fast and how busy the machine is, so no configuration could be judged
 * twice alike. Here every run has a compute budget instead (TINY_LM_COMPUTE_RATE: the steps a run gets are
 * what its time budget buys at a fixed rate of multiply-adds, a bigger model getting fewer, as under a time
 * budget), which makes a run a pure function of the script and the seed. The optimum is unknown; the judge
 * is val_bpb at the full budget averaged over seeds no search runs with (twoloop runs its seed plus up to a
 * few hundred, its proxy scenarios its seed plus 1000 and up; Optuna its seed).
 */
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Params, QualityTarget } from "../searchQuality.ts"
import { constantsOf, tempDir } from "../support/project.ts"
import type { Range } from "./synthetic.mjs"

const repoRoot = path.resolve(import.meta.dirname, "..", "..")
const example = path.join(repoRoot, "examples", "tiny-lm")
/** The corpus tiny-lm trains on (TINY_LM_DATA). */
export const corpus = path.join(repoRoot, "node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")

/** Multiply-adds a second of budget: about what the baseline does on one core of the project's machine, so a run takes about its budget. */
export const COMPUTE_RATE = 5e8
export const FULL_BUDGET_SECONDS = 4
export const PROXY_BUDGET_SECONDS = 0.8
export const JUDGE_SEEDS: ReadonlyArray<number> = [5000, 5001]
/** What a failed or diverged judge run scores: the uniform model's val_bpb (README of examples/tiny-lm). */
export const UNIFORM_BPB = 6.24

/** The search space a user would give Optuna for train.mjs's constants (sizes capped where evaluation would dominate a run). */
export const tinyLmSpace: Readonly<Record<string, Range>> = {
  CONTEXT: { low: 2, high: 16, int: true, log: true },
  EMBED_DIM: { low: 4, high: 32, int: true, log: true },
  HIDDEN: { low: 16, high: 256, int: true, log: true },
  ACTIVATION: { choices: ["tanh", "relu"] },
  INIT_SCALE: { low: 0.1, high: 3, log: true },
  OPTIMIZER: { choices: ["sgd", "momentum", "adam"] },
  LEARNING_RATE: { low: 1e-4, high: 1, log: true },
  LR_SCHEDULE: { choices: ["constant", "cosine", "linear"] },
  WARMUP: { low: 0, high: 0.3 },
  BATCH_SIZE: { choices: [8, 16, 32, 64, 128] },
  WEIGHT_DECAY: { low: 1e-6, high: 0.1, log: true },
  GRAD_CLIP: { low: 0.1, high: 10, log: true },
}

const literal = (value: number | string | boolean) => JSON.stringify(value)

/**
 * The script with each named `const NAME = value` line set to `params[NAME]` (a trailing comment kept), the
 * way the Optuna peer writes a trial's script. Throws on a name the script has no constant for. Pure.
 */
export const setConstants = (source: string, params: Params): string =>
  Object.entries(params).reduce((text, [name, value]) => {
    const pattern = new RegExp(`^(const ${name} = )[^/\\n]*?(\\s*//.*)?$`, "m")
    if (!pattern.test(text)) throw new Error(`tiny-lm: train.mjs has no constant ${name}`)
    return text.replace(pattern, (_line, head: string, comment: string | undefined) => `${head}${literal(value)}${comment ?? ""}`)
  }, source)

/** The environment of every run: twoloop's target.env, the Optuna peer's trials and the judge's runs. */
const runEnv = { TINY_LM_DATA: corpus, TINY_LM_COMPUTE_RATE: String(COMPUTE_RATE) }

/** The environment of one judge run: the compute budget, the budget in seconds and the seed, nothing else. */
const judgeEnv = (seed: number, budgetSeconds: number) => ({ PATH: process.env.PATH ?? "", ...runEnv, TWOLOOP_TIME_BUDGET: String(budgetSeconds), TWOLOOP_SEED: String(seed) })

/** A judge run's val_bpb from its exit status and stdout; the uniform model's when it failed or diverged. Pure. */
const judgedValue = (status: number | null, stdout: string): number => {
  const value = Number(/^val_bpb: (\S+)$/m.exec(stdout)?.[1])
  return status === 0 && Number.isFinite(value) ? value : UNIFORM_BPB
}

/** One judge run in `dir` at the full budget. */
const runOnce = (dir: string, seed: number): number => {
  const result = spawnSync(process.execPath, ["train.mjs"], { cwd: dir, encoding: "utf8", env: judgeEnv(seed, FULL_BUDGET_SECONDS), maxBuffer: 16 * 1024 * 1024 })
  return judgedValue(result.status, result.stdout ?? "")
}

/** One judge run in `dir`, not blocking (so that runs of several seeds share the cores). */
const runAsync = (dir: string, seed: number, budgetSeconds: number): Promise<number> =>
  new Promise((resolve) => {
    execFile(process.execPath, ["train.mjs"], { cwd: dir, encoding: "utf8", env: judgeEnv(seed, budgetSeconds), maxBuffer: 16 * 1024 * 1024 }, (error, stdout) =>
      resolve(judgedValue(error === null ? 0 : 1, stdout)),
    )
  })

/** Runs at most `limit` tasks at once, the others when one ends, in the order asked (tasks never reject). */
const limitedTo = (limit: number) => {
  let running = 0
  const waiting: Array<() => void> = []
  return <A>(task: () => Promise<A>): Promise<A> =>
    new Promise<A>((resolve) => {
      const start = () => {
        running++
        void task().then((value) => {
          running--
          waiting.shift()?.()
          resolve(value)
        })
      }
      if (running < limit) start()
      else waiting.push(start)
    })
}

/**
 * A judge of whole train.mjs scripts under the compute budget: the mean val_bpb over `seeds` at
 * `budgetSeconds`, as many runs side by side as the machine has cores, each script judged once. For judging configurations that a
 * search found under the wall clock, where no measured value can be repeated.
 */
export const scriptJudge = (budgetSeconds: number, seeds: ReadonlyArray<number>) => {
  const prepare = fs.readFileSync(path.join(example, "prepare.mjs"), "utf8")
  const judged = new Map<string, Promise<number>>()
  const slot = limitedTo(os.availableParallelism())
  return (script: string): Promise<number> => {
    const cached = judged.get(script)
    if (cached !== undefined) return cached
    const dir = tempDir("twoloop-bench-tiny-lm-judge-")
    fs.writeFileSync(path.join(dir, "prepare.mjs"), prepare)
    fs.writeFileSync(path.join(dir, "train.mjs"), script)
    const value = Promise.all(seeds.map((seed) => slot(() => runAsync(dir, seed, budgetSeconds)))).then((values) => values.reduce((sum, v) => sum + v, 0) / values.length)
    judged.set(script, value)
    return value
  }
}

export const tinyLmTarget = (): QualityTarget => {
  const train = fs.readFileSync(path.join(example, "train.mjs"), "utf8")
  const prepare = fs.readFileSync(path.join(example, "prepare.mjs"), "utf8")
  const defaults = constantsOf(train)
  const judged = new Map<string, number>()
  let judgeDir: string | undefined
  return {
    name: "tiny-lm",
    title: `examples/tiny-lm under a compute budget (${FULL_BUDGET_SECONDS} s at ${COMPUTE_RATE.toExponential(0)} multiply-adds a second, proxy ${PROXY_BUDGET_SECONDS} s); judged by val_bpb over seeds ${JUDGE_SEEDS.join(", ")}`,
    files: { "train.mjs": train, "prepare.mjs": prepare },
    readonly: ["prepare.mjs"],
    metric: "val_bpb",
    fullBudgetSeconds: FULL_BUDGET_SECONDS,
    proxyBudgetSeconds: PROXY_BUDGET_SECONDS,
    env: runEnv,
    space: tinyLmSpace,
    defaults,
    apply: "edit",
    loss: (params) => {
      const script = setConstants(train, { ...defaults, ...params })
      const cached = judged.get(script)
      if (cached !== undefined) return cached
      if (judgeDir === undefined) {
        judgeDir = tempDir("twoloop-bench-tiny-lm-judge-")
        fs.writeFileSync(path.join(judgeDir, "prepare.mjs"), prepare)
      }
      fs.writeFileSync(path.join(judgeDir, "train.mjs"), script)
      const values = JUDGE_SEEDS.map((seed) => runOnce(judgeDir!, seed))
      const value = values.reduce((sum, v) => sum + v, 0) / values.length
      judged.set(script, value)
      return value
    },
    optimum: () => undefined,
  }
}
