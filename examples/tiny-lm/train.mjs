// tiny-lm's training script, the file agents edit: a character-level language model in plain Node (a
// Bengio-style MLP over the embeddings of the previous CONTEXT characters), trained with hand-written
// backpropagation on typed arrays until the harness's time budget is spent, then scored by the harness.
// `node train.mjs --gradcheck` compares the gradients with finite differences.
import { evaluate, gaussian, makeRandom, sampleBatch, seed, train, vocabSize } from "./prepare.mjs"

// ---- hyperparameters ------------------------------------------------------------------------------
const CONTEXT = 8 // characters of context
const EMBED_DIM = 12 // size of each character embedding
const HIDDEN = 48 // width of the hidden layer
const ACTIVATION = "tanh" // one of: "tanh", "relu"
const INIT_SCALE = 1.0 // multiplies the 1/sqrt(fan_in) initialisation
const OPTIMIZER = "sgd" // one of: "sgd", "momentum", "adam"
const LEARNING_RATE = 0.05 // peak learning rate
const LR_SCHEDULE = "constant" // one of: "constant", "cosine", "linear"
const WARMUP = 0.0 // fraction of the budget spent warming up the learning rate
const BATCH_SIZE = 32
const WEIGHT_DECAY = 0.0 // decoupled weight decay
const GRAD_CLIP = 1.0 // clip the global gradient norm (0: off)

// ---- model ---------------------------------------------------------------------------------------
const makeModel = (Float, random) => {
  const inputs = CONTEXT * EMBED_DIM
  const init = (size, fanIn) => {
    const array = new Float(size)
    const scale = INIT_SCALE / Math.sqrt(fanIn)
    for (let i = 0; i < size; i++) array[i] = gaussian(random) * scale
    return array
  }
  const params = {
    embed: init(vocabSize * EMBED_DIM, 1),
    w1: init(inputs * HIDDEN, inputs),
    b1: new Float(HIDDEN),
    w2: init(HIDDEN * vocabSize, HIDDEN),
    b2: new Float(vocabSize),
  }
  const grads = Object.fromEntries(Object.entries(params).map(([name, array]) => [name, new Float(array.length)]))
  let capacity = 0
  let x, hPre, h, out, dOut, dH
  const ensure = (batch) => {
    if (batch <= capacity) return
    capacity = batch
    x = new Float(batch * inputs)
    hPre = new Float(batch * HIDDEN)
    h = new Float(batch * HIDDEN)
    out = new Float(batch * vocabSize)
    dOut = new Float(batch * vocabSize)
    dH = new Float(batch * HIDDEN)
  }
  const activate = ACTIVATION === "relu" ? (v) => (v > 0 ? v : 0) : Math.tanh
  const activateGrad = ACTIVATION === "relu" ? (pre) => (pre > 0 ? 1 : 0) : (_pre, post) => 1 - post * post

  /** Forward pass; writes logits for `batch` windows into `logits` (and keeps activations for backward). */
  const forward = (contexts, batch, logits) => {
    ensure(batch)
    const { embed, w1, b1, w2, b2 } = params
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < CONTEXT; t++) {
        const row = contexts[b * CONTEXT + t] * EMBED_DIM
        for (let e = 0; e < EMBED_DIM; e++) x[b * inputs + t * EMBED_DIM + e] = embed[row + e]
      }
      for (let j = 0; j < HIDDEN; j++) hPre[b * HIDDEN + j] = b1[j]
      for (let i = 0; i < inputs; i++) {
        const xi = x[b * inputs + i]
        if (xi === 0) continue
        const wRow = i * HIDDEN
        for (let j = 0; j < HIDDEN; j++) hPre[b * HIDDEN + j] += xi * w1[wRow + j]
      }
      for (let j = 0; j < HIDDEN; j++) h[b * HIDDEN + j] = activate(hPre[b * HIDDEN + j])
      for (let v = 0; v < vocabSize; v++) logits[b * vocabSize + v] = b2[v]
      for (let j = 0; j < HIDDEN; j++) {
        const hj = h[b * HIDDEN + j]
        if (hj === 0) continue
        const wRow = j * vocabSize
        for (let v = 0; v < vocabSize; v++) logits[b * vocabSize + v] += hj * w2[wRow + v]
      }
    }
  }

  /** Mean cross-entropy of the batch; fills `grads` with its gradient. */
  const lossAndGrads = (contexts, targets, batch) => {
    ensure(batch)
    forward(contexts, batch, out)
    for (const array of Object.values(grads)) array.fill(0)
    const { w1, w2 } = params
    let loss = 0
    for (let b = 0; b < batch; b++) {
      let max = -Infinity
      for (let v = 0; v < vocabSize; v++) max = Math.max(max, out[b * vocabSize + v])
      let sum = 0
      for (let v = 0; v < vocabSize; v++) sum += Math.exp(out[b * vocabSize + v] - max)
      const logSum = max + Math.log(sum)
      loss += logSum - out[b * vocabSize + targets[b]]
      for (let v = 0; v < vocabSize; v++) dOut[b * vocabSize + v] = Math.exp(out[b * vocabSize + v] - logSum) / batch
      dOut[b * vocabSize + targets[b]] -= 1 / batch
    }
    for (let b = 0; b < batch; b++) {
      for (let v = 0; v < vocabSize; v++) grads.b2[v] += dOut[b * vocabSize + v]
      for (let j = 0; j < HIDDEN; j++) {
        const hj = h[b * HIDDEN + j]
        const wRow = j * vocabSize
        let back = 0
        for (let v = 0; v < vocabSize; v++) {
          const d = dOut[b * vocabSize + v]
          grads.w2[wRow + v] += hj * d
          back += w2[wRow + v] * d
        }
        dH[b * HIDDEN + j] = back * activateGrad(hPre[b * HIDDEN + j], hj)
      }
      for (let j = 0; j < HIDDEN; j++) grads.b1[j] += dH[b * HIDDEN + j]
      for (let i = 0; i < inputs; i++) {
        const xi = x[b * inputs + i]
        const wRow = i * HIDDEN
        let back = 0
        for (let j = 0; j < HIDDEN; j++) {
          const d = dH[b * HIDDEN + j]
          grads.w1[wRow + j] += xi * d
          back += w1[wRow + j] * d
        }
        const t = Math.floor(i / EMBED_DIM)
        grads.embed[contexts[b * CONTEXT + t] * EMBED_DIM + (i % EMBED_DIM)] += back
      }
    }
    return loss / batch
  }

  const count = Object.values(params).reduce((sum, array) => sum + array.length, 0)
  return { params, grads, forward, lossAndGrads, count }
}

// ---- optimizer -----------------------------------------------------------------------------------
const makeOptimizer = (model) => {
  const state = Object.fromEntries(Object.entries(model.params).map(([name, array]) => [name, { m: new Float32Array(array.length), v: new Float32Array(array.length) }]))
  let t = 0
  return (learningRate) => {
    t += 1
    let norm = 0
    for (const array of Object.values(model.grads)) for (let i = 0; i < array.length; i++) norm += array[i] * array[i]
    const clip = GRAD_CLIP > 0 && Math.sqrt(norm) > GRAD_CLIP ? GRAD_CLIP / Math.sqrt(norm) : 1
    for (const [name, param] of Object.entries(model.params)) {
      const grad = model.grads[name]
      const { m, v } = state[name]
      const decay = name.startsWith("w") ? WEIGHT_DECAY * learningRate : 0
      for (let i = 0; i < param.length; i++) {
        const g = grad[i] * clip
        if (decay) param[i] -= decay * param[i]
        if (OPTIMIZER === "adam") {
          m[i] = 0.9 * m[i] + 0.1 * g
          v[i] = 0.999 * v[i] + 0.001 * g * g
          param[i] -= (learningRate * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        } else if (OPTIMIZER === "momentum") {
          m[i] = 0.9 * m[i] + g
          param[i] -= learningRate * m[i]
        } else param[i] -= learningRate * g
      }
    }
  }
}

const scheduled = (progress) => {
  const warm = WARMUP > 0 && progress < WARMUP ? progress / WARMUP : 1
  const decay = LR_SCHEDULE === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * progress)) : LR_SCHEDULE === "linear" ? 1 - progress : 1
  return LEARNING_RATE * warm * decay
}

// ---- gradient check ------------------------------------------------------------------------------
const gradcheck = () => {
  const random = makeRandom(1)
  const model = makeModel(Float64Array, random)
  const batch = 3
  const contexts = new Uint8Array(batch * CONTEXT)
  const targets = new Uint8Array(batch)
  sampleBatch(random, CONTEXT, batch, contexts, targets)
  model.lossAndGrads(contexts, targets, batch)
  let worst = 0
  for (const [name, param] of Object.entries(model.params)) {
    const analytic = Float64Array.from(model.grads[name])
    for (let k = 0; k < 6; k++) {
      const i = Math.floor(random() * param.length)
      const original = param[i]
      param[i] = original + 1e-5
      const plus = model.lossAndGrads(contexts, targets, batch)
      param[i] = original - 1e-5
      const minus = model.lossAndGrads(contexts, targets, batch)
      param[i] = original
      const numeric = (plus - minus) / 2e-5
      const error = Math.abs(numeric - analytic[i]) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic[i]))
      worst = Math.max(worst, Math.abs(numeric - analytic[i]) < 1e-9 ? 0 : error)
    }
  }
  console.log(`gradcheck max relative error: ${worst.toExponential(2)}`)
  process.exit(worst < 1e-4 ? 0 : 1)
}

// ---- run -----------------------------------------------------------------------------------------
if (process.argv.includes("--gradcheck")) gradcheck()
const random = makeRandom(seed)
const model = makeModel(Float32Array, random)
const step = makeOptimizer(model)
const contexts = new Uint8Array(BATCH_SIZE * CONTEXT)
const targets = new Uint8Array(BATCH_SIZE)
const trained = train((progress) => {
  sampleBatch(random, CONTEXT, BATCH_SIZE, contexts, targets)
  model.lossAndGrads(contexts, targets, BATCH_SIZE)
  step(scheduled(progress))
}, { params: model.count, batch: BATCH_SIZE })
evaluate({ context: CONTEXT, logits: (batchContexts, batch, out) => model.forward(batchContexts, batch, out), params: model.count, trained })
