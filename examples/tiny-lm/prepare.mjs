// The readonly harness of tiny-lm: the corpus, the vocabulary, the pinned train/validation split, the
// seeded random numbers, the budgeted training loop (time, and optionally steps or compute) and the evaluation. Agents edit train.mjs only;
// this file is hash-checked before and after every run.
//
// The metric is val_bpb: the model's cross-entropy on a pinned validation slice, in bits per UTF-8 byte of
// the predicted characters. The harness turns the model's logits into probabilities itself (log-softmax),
// so a model cannot report better probabilities than it assigns.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const corpusRelative = path.join("node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")

/** The corpus file: TINY_LM_DATA, else the npm package found walking up from here or TWOLOOP_TARGET_DIR. */
const findCorpus = () => {
  if (process.env.TINY_LM_DATA) return process.env.TINY_LM_DATA
  for (const start of [here, process.env.TWOLOOP_TARGET_DIR].filter(Boolean)) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, corpusRelative)
      if (fs.existsSync(candidate)) return candidate
      if (path.dirname(dir) === dir) break
    }
  }
  return undefined
}

const fail = (message) => {
  process.stderr.write(`tiny-lm: ${message}\n`)
  process.exit(2)
}

const corpusFile = findCorpus()
if (!corpusFile) fail(`cannot find the corpus (${corpusRelative}); run npm ci, or set TINY_LM_DATA`)
let text
try {
  text = fs.readFileSync(corpusFile, "utf8")
} catch (error) {
  fail(`cannot read the corpus ${corpusFile}: ${error.code ?? error.message}`)
}

const chars = [...new Set(text)].sort()
/** Number of distinct characters. */
export const vocabSize = chars.length
const index = new Map(chars.map((c, i) => [c, i]))
const ids = Uint8Array.from(text, (c) => index.get(c))
const split = Math.floor(ids.length * 0.9)
/** Token ids of the training split (the first 90 % of the book). */
export const trainIds = ids.subarray(0, split)
const validationLength = 12_000
const validationIds = ids.subarray(split, split + validationLength)
const validationBytes = validationIds.reduce((sum, id) => sum + Buffer.byteLength(chars[id], "utf8"), 0)

/**
 * The run's seed (TWOLOOP_SEED, default 0), time budget in seconds (TWOLOOP_TIME_BUDGET, default 10) and
 * optional step budget (TWOLOOP_MAX_STEPS, a positive integer; unset or empty: no step limit).
 */
export const seed = Number(process.env.TWOLOOP_SEED ?? 0)
export const timeBudgetSeconds = Number(process.env.TWOLOOP_TIME_BUDGET ?? 10)
const parseMaxSteps = (value) => {
  if (value === undefined || value === "") return Infinity
  const steps = Number(value)
  if (!Number.isInteger(steps) || steps < 1) fail(`TWOLOOP_MAX_STEPS=${value} must be a positive integer`)
  return steps
}
export const maxSteps = parseMaxSteps(process.env.TWOLOOP_MAX_STEPS)

/**
 * The optional compute budget: TINY_LM_COMPUTE_RATE multiply-adds per second of the time budget (a positive
 * number; unset or empty: the clock decides). With it, a run gets the steps that the time budget buys at
 * that rate, at 3 × parameters × batch multiply-adds a step (forward and backward), and the clock is not
 * looked at: a bigger model still gets fewer steps, as under a time budget, but the same seed and the same
 * script give the same val_bpb on any machine, however busy. For benchmarks that judge configurations, not
 * for research (an edit that makes training faster gains nothing here), and it trusts the size the script
 * reports.
 */
const parseRate = (value) => {
  if (value === undefined || value === "") return undefined
  const rate = Number(value)
  if (!Number.isFinite(rate) || rate <= 0) fail(`TINY_LM_COMPUTE_RATE=${value} must be a positive number`)
  return rate
}
export const computeRate = parseRate(process.env.TINY_LM_COMPUTE_RATE)

/** A seeded generator of floats in [0, 1) (mulberry32). */
export const makeRandom = (value = seed) => {
  let state = (value * 2654435761 + 0x9e3779b9) >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal sample from a uniform generator (Box-Muller). */
export const gaussian = (random) => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random())

/**
 * Fills `contexts` (batch × context ids) and `targets` (batch ids) with random windows of the training split.
 */
export const sampleBatch = (random, context, batch, contexts, targets) => {
  for (let b = 0; b < batch; b++) {
    const start = Math.floor(random() * (trainIds.length - context - 1))
    for (let t = 0; t < context; t++) contexts[b * context + t] = trainIds[start + t]
    targets[b] = trainIds[start + context]
  }
}

/**
 * Calls `step(progress)` until the time budget or the step budget is spent, whichever comes first; progress
 * is the spent fraction in [0, 1), for learning-rate schedules. The clock starts at the first call, after
 * the model is built and data loaded. With a step budget, progress counts steps (not seconds), so a run that
 * ends at its step budget is the same on any machine: same seed, same steps, same val_bpb. `size` (the
 * model's parameter count and the batch size) sets the steps of a compute budget (TINY_LM_COMPUTE_RATE).
 */
export const train = (step, size = {}) => {
  const start = performance.now()
  const budgetMs = timeBudgetSeconds * 1000
  let limit = maxSteps
  if (computeRate !== undefined) {
    const { params, batch } = size
    if (!(params > 0 && batch > 0)) fail("TINY_LM_COMPUTE_RATE needs train(step, { params, batch }) with the model's parameter count and batch size")
    limit = Math.min(maxSteps, Math.max(1, Math.floor((timeBudgetSeconds * computeRate) / (3 * params * batch))))
  }
  let steps = 0
  for (;;) {
    const elapsed = performance.now() - start
    if ((computeRate === undefined && elapsed >= budgetMs) || steps >= limit) break
    step(Number.isFinite(limit) ? steps / limit : elapsed / budgetMs)
    steps += 1
  }
  return { steps, seconds: (performance.now() - start) / 1000 }
}

/**
 * The same validation slice scored by character frequencies of the training split (add-one smoothing): the
 * reference any model that learned something beats.
 */
const unigramBpb = () => {
  const counts = new Float64Array(vocabSize).fill(1)
  for (const id of trainIds) counts[id] += 1
  const total = trainIds.length + vocabSize
  let nats = 0
  for (const id of validationIds) nats -= Math.log(counts[id] / total)
  return nats / Math.LN2 / validationBytes
}

/**
 * Scores the model on the pinned validation slice and prints the summary. `logits(contexts, batch, out)`
 * must write batch × vocabSize logits for batch × context input ids; positions before the start of the
 * slice are padded with id 0.
 */
export const evaluate = ({ context, logits, params, trained }) => {
  const started = performance.now()
  const batch = 256
  const contexts = new Uint8Array(batch * context)
  const out = new Float32Array(batch * vocabSize)
  let nats = 0
  for (let from = 0; from < validationIds.length; from += batch) {
    const count = Math.min(batch, validationIds.length - from)
    for (let b = 0; b < count; b++) {
      const position = from + b
      for (let t = 0; t < context; t++) {
        const at = position - context + t
        contexts[b * context + t] = at >= 0 ? validationIds[at] : 0
      }
    }
    logits(contexts, count, out)
    for (let b = 0; b < count; b++) {
      let max = -Infinity
      for (let v = 0; v < vocabSize; v++) max = Math.max(max, out[b * vocabSize + v])
      let sum = 0
      for (let v = 0; v < vocabSize; v++) sum += Math.exp(out[b * vocabSize + v] - max)
      nats += -(out[b * vocabSize + validationIds[from + b]] - max - Math.log(sum))
    }
  }
  const bpb = nats / Math.LN2 / validationBytes
  console.log("---")
  console.log(`val_bpb: ${Number.isFinite(bpb) ? bpb.toFixed(6) : bpb}`)
  console.log(`unigram_bpb: ${unigramBpb().toFixed(6)}`)
  console.log(`training_seconds: ${trained.seconds.toFixed(1)}`)
  console.log(`eval_seconds: ${((performance.now() - started) / 1000).toFixed(2)}`)
  console.log(`num_steps: ${trained.steps}`)
  console.log(`num_params: ${params}`)
  console.log(`vocab_size: ${vocabSize}`)
}
