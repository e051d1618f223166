import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import { constructMerge, eligibleAncestors, findMergeTriplet, hasDesirableComponent, mergeGateIds } from "../../../stages/gepa/merge.ts"

const candidate = (first: string, second: string, parents: Array<number>, mean: number) => ({
  components: [["first", first] as const, ["second", second] as const],
  parents,
  mean,
})

// 0 is the seed; 1 and 2 each changed a different component of 0; 3 descends from 1.
const pool = [
  candidate("A0", "B0", [], 0.2),
  candidate("A1", "B0", [0], 0.5),
  candidate("A0", "B2", [0], 0.6),
  candidate("A3", "B0", [1], 0.7),
]

describe("merge eligibility", () => {
  it("accepts two descendants of a common ancestor that is no better than either", () => {
    expect(eligibleAncestors(pool, 1, 2)).toEqual([0])
  })

  it("refuses a pair where one is an ancestor of the other", () => {
    expect(eligibleAncestors(pool, 1, 3)).toEqual([])
    expect(eligibleAncestors(pool, 0, 2)).toEqual([])
  })

  it("refuses an ancestor with a higher mean than a descendant", () => {
    const better = pool.map((c, i) => (i === 0 ? { ...c, mean: 0.55 } : c))
    expect(eligibleAncestors(better, 1, 2)).toEqual([])
  })

  it("needs a component equal to the ancestor's in one descendant and different between the two", () => {
    const ancestor = pool[0]!.components
    expect(hasDesirableComponent(ancestor, pool[1]!.components, pool[2]!.components)).toBe(true)
    // both rewrote the same component differently and left the other alone: nothing to combine
    expect(hasDesirableComponent(ancestor, [["first", "A1"], ["second", "B0"]], [["first", "A4"], ["second", "B0"]])).toBe(false)
    // identical descendants
    expect(hasDesirableComponent(ancestor, pool[1]!.components, pool[1]!.components)).toBe(false)
  })

  it("finds the one eligible triplet among the survivors, and not again once tried", () => {
    expect(findMergeTriplet(pool, [1, 2], new Set(), makeRng(1))).toEqual({ first: 1, second: 2, ancestor: 0 })
    expect(findMergeTriplet(pool, [1, 2], new Set(["1/2/0"]), makeRng(1))).toBeUndefined()
    expect(findMergeTriplet(pool, [1, 3], new Set(), makeRng(1))).toBeUndefined()
    expect(findMergeTriplet(pool, [2], new Set(), makeRng(1))).toBeUndefined()
  })
})

describe("merge construction", () => {
  it("takes each component from the descendant that changed it, in seed key order", () => {
    expect(constructMerge(pool, { first: 1, second: 2, ancestor: 0 }, makeRng(1))).toEqual([
      ["first", "A1"],
      ["second", "B2"],
    ])
  })

  it("takes the higher-mean descendant's text where both changed a component", () => {
    const both = [candidate("A0", "B0", [], 0.1), candidate("A1", "B1", [0], 0.4), candidate("A2", "B0", [0], 0.3)]
    expect(constructMerge(both, { first: 1, second: 2, ancestor: 0 }, makeRng(1))).toEqual([
      ["first", "A1"],
      ["second", "B1"],
    ])
    const secondBetter = both.map((c, i) => (i === 2 ? { ...c, mean: 0.9 } : c))
    expect(constructMerge(secondBetter, { first: 1, second: 2, ancestor: 0 }, makeRng(1))[0]).toEqual(["first", "A2"])
  })

  it("settles an equal-mean conflict with the RNG", () => {
    const tied = [candidate("A0", "B0", [], 0.1), candidate("A1", "B1", [0], 0.4), candidate("A2", "B0", [0], 0.4)]
    const picks = new Set(Array.from({ length: 20 }, (_, seed) => constructMerge(tied, { first: 1, second: 2, ancestor: 0 }, makeRng(seed))[0]![1]))
    expect(picks).toEqual(new Set(["A1", "A2"]))
  })
})

describe("merge gate subsample", () => {
  const first = new Map([["v0", 1], ["v1", 1], ["v2", 0], ["v3", 0], ["v4", 1], ["v5", 0], ["v6", 0]])
  const second = new Map([["v0", 0], ["v1", 0], ["v2", 1], ["v3", 1], ["v4", 1], ["v5", 0], ["v6", 1]])
  const ids = ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]

  it("stratifies five ids by which parent wins", () => {
    for (let seed = 0; seed < 10; seed++) {
      const gate = mergeGateIds(first, second, ids, makeRng(seed))
      expect(gate).toHaveLength(5)
      expect(new Set(gate).size).toBe(5)
      expect(gate.filter((id) => ["v0", "v1"].includes(id))).toHaveLength(2)
      expect(gate.filter((id) => ["v2", "v3", "v6"].includes(id))).toHaveLength(2)
      expect(gate.filter((id) => ["v4", "v5"].includes(id))).toHaveLength(1)
    }
  })

  it("tops up from the other ids, then repeats ids when fewer than five are common", () => {
    const gate = mergeGateIds(new Map([["a", 1], ["b", 0]]), new Map([["a", 0], ["b", 0], ["c", 1]]), ["a", "b", "c"], makeRng(2))
    expect(gate).toHaveLength(5)
    expect(new Set(gate)).toEqual(new Set(["a", "b"]))
  })
})
