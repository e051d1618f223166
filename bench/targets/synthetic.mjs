// Synthetic training targets for the search-quality benchmark: each is a loss over a training script's
// hyperparameters with a known optimum, seeded noise, and a fidelity (the run's time budget over the full
// budget) that shifts the optimum the way short runs do. Each hides traps a real script has: interactions
// (an optimizer that diverges at another's learning rate), regularisers that are 0 by default, constants
// that do nothing, crashes at extremes (out of memory, divergence), and proxy-vs-full shifts.
//
// A target project holds `train.mjs` (the editable constants; it calls `run`) and this file as its readonly
// harness. `run` prints `loss: <x>` like a training script (NaN when training diverged, a crash when it
// would not fit in memory). TWOLOOP_TIME_BUDGET sets the fidelity, TWOLOOP_SEED the noise, TARGET_PARAMS
// (JSON) overrides constants (the Optuna peer sets its trial's values this way), TWOLOOP_NOISE_FREE=1
// gives the noise-free value (used only to judge final configurations, never by a search).

export const FULL_BUDGET_SECONDS = 10

const log10 = Math.log10
const log2 = Math.log2
const bump = (x, center, width) => Math.exp(-(((x - center) / width) ** 2) / 2)

/** Noise shared by every run with the same seed (common random numbers), and noise of this run's configuration. */
const SEED_NOISE = 0.01
const RUN_NOISE = 0.005

const crash = (reason) => ({ crash: reason })
const diverged = { diverged: true }

/**
 * @typedef {{ name: string, value: number | string, comment?: string }} Constant
 * @typedef {{ choices: ReadonlyArray<number | string> } | { low: number, high: number, log?: boolean, int?: boolean }} Range
 * @typedef {{ loss: number } | { crash: string } | { diverged: true }} Outcome
 * @typedef {{ name: string, title: string, constants: ReadonlyArray<Constant>, objective: (p: Record<string, any>, fidelity: number) => Outcome, space: Record<string, Range> }} Target
 */

/** @type {ReadonlyArray<Target>} */
export const targets = [
  {
    name: "interaction",
    title: "optimizer × learning rate (adam diverges at sgd's rate), regularisers at 0, inert constants",
    constants: [
      { name: "OPTIMIZER", value: "sgd", comment: 'one of: "sgd", "momentum", "adam"' },
      { name: "LEARNING_RATE", value: 0.1 },
      { name: "WEIGHT_DECAY", value: 0.0 },
      { name: "WARMUP", value: 0.0, comment: "fraction of the run" },
      { name: "BATCH_SIZE", value: 32 },
      { name: "GRAD_CLIP", value: 1.0 },
      { name: "LOG_EVERY", value: 50 },
      { name: "EVAL_BATCHES", value: 20 },
    ],
    objective: (p, f) => {
      const optimizer = { sgd: { floor: 1.4, lr: 0.3, limit: 2 }, momentum: { floor: 1.2, lr: 0.03, limit: 0.3 }, adam: { floor: 1.0, lr: 0.003, limit: 0.03 } }[p.OPTIMIZER]
      if (!optimizer) return crash(`unknown optimizer ${p.OPTIMIZER}`)
      if (!(p.LEARNING_RATE > 0) || !(p.BATCH_SIZE >= 1) || p.WEIGHT_DECAY < 0 || p.WARMUP < 0 || p.WARMUP >= 1) return crash("invalid hyperparameters")
      if (p.LEARNING_RATE > optimizer.limit) return diverged
      let loss = optimizer.floor + 0.35 * (1 - f) + 0.25 * log10(p.LEARNING_RATE / (optimizer.lr * f ** -0.3)) ** 2
      if (p.WEIGHT_DECAY > 0) loss -= 0.06 * bump(log10(p.WEIGHT_DECAY), -2, 0.5)
      if (p.WEIGHT_DECAY > 0.1) loss += 2 * (p.WEIGHT_DECAY - 0.1)
      loss -= 0.03 * bump(p.WARMUP, 0.08, 0.04)
      if (p.WARMUP > 0.5) loss += p.WARMUP - 0.5
      loss += 0.02 * log2(p.BATCH_SIZE / 64) ** 2
      return { loss }
    },
    space: {
      OPTIMIZER: { choices: ["sgd", "momentum", "adam"] },
      LEARNING_RATE: { low: 1e-5, high: 1, log: true },
      WEIGHT_DECAY: { low: 1e-6, high: 0.1, log: true },
      WARMUP: { low: 0, high: 0.3 },
      BATCH_SIZE: { choices: [16, 32, 64, 128, 256] },
      GRAD_CLIP: { low: 0.1, high: 10, log: true },
      LOG_EVERY: { low: 10, high: 500, int: true, log: true },
      EVAL_BATCHES: { low: 5, high: 100, int: true, log: true },
    },
  },
  {
    name: "zero-defaults",
    title: "regularisers and schedules that are 0 (off) by default, each worth a little",
    constants: [
      { name: "LEARNING_RATE", value: 0.01 },
      { name: "DROPOUT", value: 0.0 },
      { name: "WEIGHT_DECAY", value: 0.0 },
      { name: "LABEL_SMOOTHING", value: 0.0 },
      { name: "WARMUP_STEPS", value: 0 },
      { name: "EMA_DECAY", value: 0.0, comment: "0: no weight averaging" },
      { name: "HIDDEN", value: 256 },
      { name: "NUM_WORKERS", value: 4 },
    ],
    objective: (p, f) => {
      if (!(p.LEARNING_RATE > 0) || p.DROPOUT < 0 || p.DROPOUT >= 1 || p.WEIGHT_DECAY < 0 || p.LABEL_SMOOTHING < 0 || p.LABEL_SMOOTHING >= 1 || p.WARMUP_STEPS < 0 || p.EMA_DECAY < 0 || p.EMA_DECAY >= 1 || !(p.HIDDEN >= 1) || !(p.NUM_WORKERS >= 0))
        return crash("invalid hyperparameters")
      if (p.LEARNING_RATE > 0.5) return diverged
      let loss = 2.0 + 0.3 * (1 - f) + 0.2 * log10(p.LEARNING_RATE / 0.02) ** 2
      loss -= 0.08 * bump(p.DROPOUT, 0.15 * Math.sqrt(f), 0.08)
      loss += p.DROPOUT > 0.5 ? 2 * (p.DROPOUT - 0.5) : 0
      if (p.WEIGHT_DECAY > 0) loss -= 0.06 * bump(log10(p.WEIGHT_DECAY), -2.5, 0.6)
      if (p.WEIGHT_DECAY > 0.2) loss += p.WEIGHT_DECAY - 0.2
      loss -= 0.04 * bump(p.LABEL_SMOOTHING, 0.1, 0.06)
      loss += p.LABEL_SMOOTHING > 0.4 ? p.LABEL_SMOOTHING - 0.4 : 0
      if (p.WARMUP_STEPS > 0) loss -= 0.05 * bump(log10(p.WARMUP_STEPS), log10(200), 0.4)
      if (p.EMA_DECAY > 0) loss -= 0.03 * bump(log10(1 - p.EMA_DECAY), -2.5, 0.5)
      loss += 0.03 * log2(p.HIDDEN / 512) ** 2
      return { loss }
    },
    space: {
      LEARNING_RATE: { low: 1e-5, high: 1, log: true },
      DROPOUT: { low: 0, high: 0.5 },
      WEIGHT_DECAY: { low: 1e-6, high: 0.1, log: true },
      LABEL_SMOOTHING: { low: 0, high: 0.3 },
      WARMUP_STEPS: { low: 0, high: 2000, int: true },
      EMA_DECAY: { low: 0, high: 0.9999 },
      HIDDEN: { choices: [64, 128, 256, 512, 1024, 2048] },
      NUM_WORKERS: { low: 0, high: 16, int: true },
    },
  },
  {
    name: "inert",
    title: "fourteen constants, four that matter; the important-sounding ones (betas, heads, warmup) do nothing",
    constants: [
      { name: "LEARNING_RATE", value: 3e-4 },
      { name: "BETA1", value: 0.9 },
      { name: "BETA2", value: 0.999 },
      { name: "EPSILON", value: 1e-8 },
      { name: "WARMUP", value: 0.1 },
      { name: "LR_SCHEDULE", value: "cosine", comment: 'one of: "constant", "linear", "cosine"' },
      { name: "HIDDEN", value: 128 },
      { name: "LAYERS", value: 4 },
      { name: "HEADS", value: 4 },
      { name: "DROPOUT", value: 0.1 },
      { name: "BATCH_SIZE", value: 64 },
      { name: "CONTEXT", value: 128 },
      { name: "INIT_STD", value: 0.02 },
      { name: "GRAD_CLIP", value: 1.0 },
    ],
    objective: (p, f) => {
      if (!(p.LEARNING_RATE > 0) || !(p.BETA1 >= 0 && p.BETA1 < 1) || !(p.BETA2 >= 0 && p.BETA2 < 1) || !(p.EPSILON > 0) || !(p.HIDDEN >= 8) || !(p.LAYERS >= 1) || !(p.HEADS >= 1) || !(p.BATCH_SIZE >= 1) || !(p.CONTEXT >= 8) || p.DROPOUT < 0 || p.DROPOUT >= 1 || p.WARMUP < 0 || p.WARMUP >= 1)
        return crash("invalid hyperparameters")
      if (!["constant", "linear", "cosine"].includes(p.LR_SCHEDULE)) return crash(`unknown schedule ${p.LR_SCHEDULE}`)
      if (p.LEARNING_RATE > 0.05) return diverged
      let loss = 3.0 + 0.4 * (1 - f) + 0.3 * log10(p.LEARNING_RATE / 1.5e-3) ** 2
      loss += 0.04 * log2(p.HIDDEN / (512 * Math.sqrt(f))) ** 2
      loss += 0.06 * log2(p.LAYERS / 8) ** 2
      loss += 0.02 * log2(p.CONTEXT / 512) ** 2
      loss += p.DROPOUT > 0.5 ? p.DROPOUT - 0.5 : 0
      return { loss }
    },
    space: {
      LEARNING_RATE: { low: 1e-5, high: 1e-1, log: true },
      BETA1: { low: 0.5, high: 0.99 },
      BETA2: { low: 0.9, high: 0.9999 },
      EPSILON: { low: 1e-10, high: 1e-6, log: true },
      WARMUP: { low: 0, high: 0.3 },
      LR_SCHEDULE: { choices: ["constant", "linear", "cosine"] },
      HIDDEN: { choices: [64, 128, 256, 512, 1024] },
      LAYERS: { low: 1, high: 16, int: true },
      HEADS: { choices: [1, 2, 4, 8, 16] },
      DROPOUT: { low: 0, high: 0.5 },
      BATCH_SIZE: { choices: [16, 32, 64, 128, 256] },
      CONTEXT: { choices: [64, 128, 256, 512, 1024] },
      INIT_STD: { low: 1e-3, high: 0.1, log: true },
      GRAD_CLIP: { low: 0.1, high: 10, log: true },
    },
  },
  {
    name: "cliffs",
    title: "bigger is better until it does not fit in memory (a crash), learning rates that diverge",
    constants: [
      { name: "WIDTH", value: 256 },
      { name: "DEPTH", value: 6 },
      { name: "BATCH_SIZE", value: 32 },
      { name: "SEQ_LEN", value: 256 },
      { name: "LEARNING_RATE", value: 0.01 },
    ],
    objective: (p, f) => {
      if (!(p.WIDTH >= 8) || !(p.DEPTH >= 1) || !(p.BATCH_SIZE >= 1) || !(p.SEQ_LEN >= 8) || !(p.LEARNING_RATE > 0)) return crash("invalid hyperparameters")
      const gigabytes = (p.WIDTH * p.WIDTH * p.DEPTH * p.BATCH_SIZE * p.SEQ_LEN) / 2 ** 30
      if (gigabytes > 16) return crash(`CUDA out of memory (tried to allocate ${gigabytes.toFixed(1)} GiB of 16)`)
      if (p.LEARNING_RATE > 0.08) return diverged
      let loss = 1.0 + 0.3 * (1 - f) + 0.8 * Math.exp(-p.WIDTH / 300) + 0.5 * Math.exp(-p.DEPTH / 5) + 0.4 * Math.exp(-p.SEQ_LEN / 300)
      loss += 0.03 * log2(p.BATCH_SIZE / 64) ** 2 + 0.3 * log10(p.LEARNING_RATE / 0.02) ** 2
      return { loss }
    },
    space: {
      WIDTH: { low: 32, high: 4096, int: true, log: true },
      DEPTH: { low: 1, high: 32, int: true },
      BATCH_SIZE: { choices: [8, 16, 32, 64, 128, 256] },
      SEQ_LEN: { choices: [64, 128, 256, 512, 1024, 2048] },
      LEARNING_RATE: { low: 1e-5, high: 1, log: true },
    },
  },
  {
    name: "fidelity",
    title: "short runs favour higher learning rates and smaller models; the schedule that wins at full budget looks neutral at the proxy's",
    constants: [
      { name: "LEARNING_RATE", value: 0.002 },
      { name: "WIDTH", value: 128 },
      { name: "DEPTH", value: 4 },
      { name: "LR_SCHEDULE", value: "constant", comment: 'one of: "constant", "linear", "cosine"' },
      { name: "BATCH_SIZE", value: 64 },
      { name: "WARMUP", value: 0.05 },
    ],
    objective: (p, f) => {
      if (!(p.LEARNING_RATE > 0) || !(p.WIDTH >= 8) || !(p.DEPTH >= 1) || !(p.BATCH_SIZE >= 1) || p.WARMUP < 0 || p.WARMUP >= 1) return crash("invalid hyperparameters")
      const schedule = { constant: 0, linear: 0.03 * f, cosine: 0.05 * f - 0.02 * (1 - f) }[p.LR_SCHEDULE]
      if (schedule === undefined) return crash(`unknown schedule ${p.LR_SCHEDULE}`)
      if (p.LEARNING_RATE > 0.1) return diverged
      let loss = 1.2 + 0.3 * (1 - f) - schedule
      loss += 0.3 * log10(p.LEARNING_RATE / (0.006 * f ** -0.6)) ** 2
      loss += 0.05 * log2(p.WIDTH / (512 * f ** 0.8)) ** 2
      loss += 0.06 * log2(p.DEPTH / (8 * f ** 0.5)) ** 2
      loss += 0.01 * log2(p.BATCH_SIZE / 64) ** 2
      return { loss }
    },
    space: {
      LEARNING_RATE: { low: 1e-5, high: 1e-1, log: true },
      WIDTH: { low: 32, high: 2048, int: true, log: true },
      DEPTH: { low: 1, high: 24, int: true },
      LR_SCHEDULE: { choices: ["constant", "linear", "cosine"] },
      BATCH_SIZE: { choices: [16, 32, 64, 128, 256] },
      WARMUP: { low: 0, high: 0.3 },
    },
  },
]

export const targetNamed = (name) => {
  const target = targets.find((t) => t.name === name)
  if (!target) throw new Error(`no synthetic target ${name}`)
  return target
}

/** The defaults of a target's constants. */
export const defaultsOf = (target) => Object.fromEntries(target.constants.map((c) => [c.name, c.value]))

/** The noise-free loss of a configuration at a fidelity; Infinity for a crash or a divergence. */
export const noiseFreeLoss = (target, params, fidelity = 1) => {
  const outcome = target.objective({ ...defaultsOf(target), ...params }, fidelity)
  return "loss" in outcome ? outcome.loss : Number.POSITIVE_INFINITY
}

// FNV-1a over a string with murmur3's finaliser (so strings one character apart hash independently), then a
// normal deviate by Box-Muller from two derived uniforms.
const hash32 = (text) => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}
const uniform = (text) => (hash32(text) + 0.5) / 2 ** 32
const normal = (text) => Math.sqrt(-2 * Math.log(uniform(`${text}/u`))) * Math.cos(2 * Math.PI * uniform(`${text}/v`))

/** One measured loss: the objective plus noise shared by the seed and noise of this configuration (larger at low fidelity). */
export const measuredLoss = (target, params, fidelity, seed) => {
  const outcome = target.objective({ ...defaultsOf(target), ...params }, fidelity)
  if (!("loss" in outcome)) return outcome
  const configuration = JSON.stringify(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1)))
  const noise = SEED_NOISE * normal(`${target.name}/${seed}`) + (RUN_NOISE / Math.sqrt(fidelity)) * normal(`${target.name}/${seed}/${configuration}`)
  return { loss: outcome.loss + noise }
}

/** The entry point `train.mjs` calls with its constants; prints the metric like a training script. */
export const run = (name, constants) => {
  const target = targetNamed(name)
  const overrides = process.env.TARGET_PARAMS ? JSON.parse(process.env.TARGET_PARAMS) : {}
  const params = { ...constants, ...overrides }
  const budget = Number(process.env.TWOLOOP_TIME_BUDGET ?? FULL_BUDGET_SECONDS)
  const fidelity = Math.min(1, budget / FULL_BUDGET_SECONDS)
  const seed = Number(process.env.TWOLOOP_SEED ?? 0)
  const outcome = process.env.TWOLOOP_NOISE_FREE === "1" ? target.objective({ ...defaultsOf(target), ...params }, fidelity) : measuredLoss(target, params, fidelity, seed)
  if ("crash" in outcome) {
    process.stderr.write(`RuntimeError: ${outcome.crash}\n`)
    process.exit(1)
  }
  process.stdout.write(`step ${Math.round(1000 * fidelity)} | training done\n`)
  process.stdout.write(`loss: ${"diverged" in outcome ? "nan" : outcome.loss.toFixed(6)}\n`)
}

/** The editable training script of a target: its constants, then the call into the harness. */
export const trainScript = (target) => {
  const line = (c) => `const ${c.name} = ${typeof c.value === "string" ? JSON.stringify(c.value) : Number.isInteger(c.value) && !/(RATE|DECAY|DROPOUT|SMOOTHING|WARMUP$|CLIP|STD|BETA|EPSILON)/.test(c.name) ? String(c.value) : formatFloat(c.value)}${c.comment ? ` // ${c.comment}` : ""}`
  return [
    `// ${target.title}`,
    `import { run } from "./harness.mjs"`,
    "",
    ...target.constants.map(line),
    "",
    `run(${JSON.stringify(target.name)}, { ${target.constants.map((c) => c.name).join(", ")} })`,
    "",
  ].join("\n")
}

const formatFloat = (value) => {
  if (value === 0) return "0.0"
  if (Math.abs(value) < 1e-3) return value.toExponential().replace("e-", "e-")
  return Number.isInteger(value) ? `${value}.0` : String(value)
}
