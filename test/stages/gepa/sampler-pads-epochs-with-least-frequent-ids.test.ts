import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import { defaultMinibatchSize, initialSamplerState, nextMinibatch, type SamplerState } from "../../../stages/gepa/sampler.ts"

const ids = (n: number) => Array.from({ length: n }, (_, i) => `e${i}`)

describe("epoch-shuffled padded minibatch sampler", () => {
  it("defaults to minibatches of 3", () => {
    expect(defaultMinibatchSize).toBe(3)
  })

  it("pads one slot with the id that came last in the shuffled order, so a minibatch repeats an id", () => {
    const first = nextMinibatch(initialSamplerState, ids(5), 0, 3, makeRng(1))
    const order = first.state.order
    expect(order).toHaveLength(6)
    expect([...order.slice(0, 5)].sort()).toEqual(ids(5))
    expect(order[5]).toBe(order[4])
    expect(first.ids).toEqual(order.slice(0, 3))
    const second = nextMinibatch(first.state, ids(5), 1, 3, makeRng(1))
    expect(second.ids).toEqual([order[3], order[4], order[4]])
  })

  it("pads two slots with different least-frequent ids, latest in the shuffle first", () => {
    const { state } = nextMinibatch(initialSamplerState, ids(4), 0, 3, makeRng(9))
    const shuffled = state.order.slice(0, 4)
    expect(state.order).toEqual([...shuffled, shuffled[3], shuffled[2]])
    expect(state.frequency[shuffled[3]!]).toBe(2)
    expect(state.frequency[shuffled[2]!]).toBe(2)
    expect(state.frequency[shuffled[0]!]).toBe(1)
  })

  it("does not pad when the train set is a multiple of the minibatch size", () => {
    const { state } = nextMinibatch(initialSamplerState, ids(6), 0, 3, makeRng(2))
    expect(state.order).toHaveLength(6)
    expect(new Set(state.order).size).toBe(6)
  })

  it("fills a minibatch larger than the train set with repeats", () => {
    const { ids: batch } = nextMinibatch(initialSamplerState, ["only"], 0, 3, makeRng(3))
    expect(batch).toEqual(["only", "only", "only"])
  })

  it("uses the RNG only when the order is rebuilt", () => {
    const rng = makeRng(4)
    const first = nextMinibatch(initialSamplerState, ids(5), 0, 3, rng)
    const before = rng.state()
    nextMinibatch(first.state, ids(5), 1, 3, rng)
    expect(rng.state()).toEqual(before)
  })

  it("reshuffles when the epoch advances, padding with the least frequent id over all epochs", () => {
    const rng = makeRng(5)
    let state: SamplerState = initialSamplerState
    state = nextMinibatch(state, ids(5), 0, 3, rng).state
    const firstOrder = state.order
    const paddedBefore = firstOrder[5]!
    state = nextMinibatch(state, ids(5), 1, 3, rng).state
    expect(state.order).toBe(firstOrder)
    const third = nextMinibatch(state, ids(5), 2, 3, rng)
    expect(third.state.epoch).toBe(1)
    expect(third.state.order).not.toEqual(firstOrder)
    const shuffled = third.state.order.slice(0, 5)
    const pad = third.state.order[5]
    expect(pad).not.toBe(paddedBefore)
    const lastEligible = [...shuffled].reverse().find((id) => id !== paddedBefore)
    expect(pad).toBe(lastEligible)
    expect(third.ids).toEqual(third.state.order.slice(0, 3))
    expect(third.state.frequency[paddedBefore]).toBe(3)
  })

  it("rebuilds the order when the train set changes size", () => {
    const rng = makeRng(6)
    const first = nextMinibatch(initialSamplerState, ids(5), 0, 3, rng)
    const grown = nextMinibatch(first.state, ids(7), 1, 3, rng)
    expect(grown.state.datasetSize).toBe(7)
    expect(grown.state.order).toHaveLength(9)
    expect([...new Set(grown.state.order)].sort()).toEqual(ids(7).sort())
    expect(grown.ids).toEqual(grown.state.order.slice(3, 6))
  })

  it("continues identically from a JSON round trip of its state and the RNG state", () => {
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
  })
})
