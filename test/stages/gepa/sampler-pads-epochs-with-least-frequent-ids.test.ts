/**
 * The minibatch sampler against cases derived from the reference (gepa's EpochShuffledBatchSampler and its
 * tests). The shuffle is scripted so each case states exactly which list an epoch starts from.
 */
import { describe, expect, it } from "vitest"
import { makeRng, type Rng } from "../../../src/common/rng.ts"
import { defaultMinibatchSize, epochOrder, initialSamplerState, nextMinibatch, type SamplerState } from "../../../stages/gepa/sampler.ts"

const ids = (n: number, prefix = "t") => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** An Rng whose k-th shuffle returns the k-th scripted order ("identity" and "reverse" by name). */
const scriptedShuffles = (orders: ReadonlyArray<"identity" | "reverse">): Rng & { readonly shuffles: () => number } => {
  const base = makeRng(0)
  let calls = 0
  return {
    ...base,
    shuffle: <A>(items: ReadonlyArray<A>) => {
      const order = orders[Math.min(calls, orders.length - 1)]!
      calls += 1
      return order === "identity" ? [...items] : [...items].reverse()
    },
    shuffles: () => calls,
  }
}

const draw = (train: ReadonlyArray<string>, size: number, iterations: number, rng: Rng) => {
  let state: SamplerState = initialSamplerState
  const batches: Array<string> = []
  for (let iteration = 0; iteration < iterations; iteration++) {
    const next = nextMinibatch(state, train, iteration, size, rng)
    batches.push(next.ids.join(" "))
    state = next.state
  }
  return batches
}

describe("epoch-shuffled padded minibatches, reference cases", () => {
  // name, train ids, minibatch size, the shuffle of each epoch, minibatches of iterations 0.., as the reference gives them
  const cases: ReadonlyArray<readonly [string, number, number, ReadonlyArray<"identity" | "reverse">, ReadonlyArray<string>]> = [
    // The case of issue 14: counts restart each epoch, so every epoch pads the same way. Counting across
    // epochs (twoloop before the fix) gave `t3 t1 t0` as the second epoch's second minibatch.
    ["4 ids, minibatch 3, identity shuffles", 4, 3, ["identity"], ["t0 t1 t2", "t3 t3 t2", "t0 t1 t2", "t3 t3 t2", "t0 t1 t2", "t3 t3 t2"]],
    ["4 ids, minibatch 3, identity then reversed", 4, 3, ["identity", "reverse"], ["t0 t1 t2", "t3 t3 t2", "t3 t2 t1", "t0 t0 t1"]],
    ["5 ids, minibatch 3: one slot, the last id", 5, 3, ["identity"], ["t0 t1 t2", "t3 t4 t4", "t0 t1 t2"]],
    ["6 ids, minibatch 3: no padding", 6, 3, ["reverse"], ["t5 t4 t3", "t2 t1 t0", "t5 t4 t3"]],
    ["1 id, minibatch 3: the only id three times", 1, 3, ["identity"], ["t0 t0 t0", "t0 t0 t0"]],
    // ties among the least frequent go to the id that came last in the shuffled list
    ["2 ids, minibatch 5: padding alternates from the back", 2, 5, ["identity"], ["t0 t1 t1 t0 t1", "t0 t1 t1 t0 t1"]],
    ["7 ids, minibatch 4", 7, 4, ["identity"], ["t0 t1 t2 t3", "t4 t5 t6 t6", "t0 t1 t2 t3"]],
  ]
  it.each(cases)("%s", (_name, count, size, shuffles, expected) => {
    expect(draw(ids(count), size, expected.length, scriptedShuffles(shuffles))).toEqual(expected)
  })

  it("pads from counts of this epoch's list alone", () => {
    expect(epochOrder(["a", "b", "c", "d"], 3)).toEqual(["a", "b", "c", "d", "d", "c"])
    expect(epochOrder(["d", "c", "b", "a"], 3)).toEqual(["d", "c", "b", "a", "a", "b"])
  })

  it("rebuilds the list when the train set grows (reference: the sampler refreshes when the loader expands)", () => {
    const rng = scriptedShuffles(["identity"])
    const first = nextMinibatch(initialSamplerState, ids(4), 0, 2, rng)
    expect(first.ids).toEqual(["t0", "t1"])
    const grown = nextMinibatch(first.state, ids(6), 1, 2, rng)
    expect(grown.state).toEqual({ epoch: 0, order: ids(6), datasetSize: 6 })
    expect(grown.ids).toEqual(["t2", "t3"])
    expect(rng.shuffles()).toBe(2)
  })

  it("refuses an empty train set (reference: errors when the loader is empty)", () => {
    expect(() => nextMinibatch(initialSamplerState, [], 0, 3, makeRng(1))).toThrow("the train set is empty")
  })

  // Not ported: the reference's tests of several draws within one iteration (multi-proposal sampling);
  // twoloop draws one minibatch per iteration.
})

describe("epoch-shuffled padded minibatch sampler", () => {
  it("defaults to minibatches of 3", () => {
    expect(defaultMinibatchSize).toBe(3)
  })

  it("shuffles with the run's RNG, so a seed fixes the order", () => {
    const first = nextMinibatch(initialSamplerState, ids(5), 0, 3, makeRng(1))
    const again = nextMinibatch(initialSamplerState, ids(5), 0, 3, makeRng(1))
    expect(first.state.order).toEqual(again.state.order)
    expect([...first.state.order.slice(0, 5)].sort()).toEqual(ids(5))
    expect(first.state.order[5]).toBe(first.state.order[4])
  })

  it("uses the RNG only when the order is rebuilt", () => {
    const rng = makeRng(4)
    const first = nextMinibatch(initialSamplerState, ids(5), 0, 3, rng)
    const before = rng.state()
    nextMinibatch(first.state, ids(5), 1, 3, rng)
    expect(rng.state()).toEqual(before)
    nextMinibatch(first.state, ids(5), 2, 3, rng)
    expect(rng.state()).not.toEqual(before)
  })

  it("continues identically from a JSON round trip of its state and the RNG state (reference: checkpoint resume mid-epoch)", () => {
    const rng = makeRng(7)
    let state: SamplerState = initialSamplerState
    for (let i = 0; i < 3; i++) state = nextMinibatch(state, ids(8), i, 3, rng).state
    const savedState = JSON.parse(JSON.stringify(state)) as SamplerState
    const restored = makeRng(JSON.parse(JSON.stringify(rng.state())))
    const expected: Array<Array<string>> = []
    const actual: Array<Array<string>> = []
    let a = state
    let b = savedState
    for (let i = 3; i < 12; i++) {
      const x = nextMinibatch(a, ids(8), i, 3, rng)
      const y = nextMinibatch(b, ids(8), i, 3, restored)
      expected.push(x.ids)
      actual.push(y.ids)
      a = x.state
      b = y.state
    }
    expect(actual).toEqual(expected)
    expect(restored.state()).toEqual(rng.state())
  })
})
