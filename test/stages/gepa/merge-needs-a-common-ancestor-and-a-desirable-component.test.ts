import { describe, expect, it } from "vitest"
import { makeRng, type Rng } from "../../../src/common/rng.ts"
import { constructMerge, eligibleAncestors, findMerge, findMergeTriplet, hasDesirableComponent, mergeGateIds, type MergeView } from "../../../stages/gepa/merge.ts"

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

/** One component named `pred`, as in the reference's merge tests. */
const single = (texts: ReadonlyArray<string>, parents: ReadonlyArray<ReadonlyArray<number>>, means: ReadonlyArray<number>): Array<MergeView> =>
  texts.map((text, index) => ({ components: [["pred", text] as const], parents: parents[index]!, mean: means[index]! }))

const everyoneShares = (count: number) => () => count

describe("merge eligibility, reference cases", () => {
  const lineage = [[], [0], [0]]

  // name, ancestor / first / second texts, means, a desirable component?, common ancestors eligible for merging 1 and 2
  const eligibility: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<number>, boolean, ReadonlyArray<number>]> = [
    ["descendants that diverge from a no-better ancestor", ["A", "A", "B"], [0.1, 0.6, 0.7], true, [0]],
    ["identical descendants: nothing to combine", ["A", "A", "A"], [0.1, 0.6, 0.7], false, []],
    ["an ancestor that outscores the descendants", ["A", "A", "B"], [0.9, 0.5, 0.6], true, []],
  ]
  it.each(eligibility)("%s", (_name, texts, means, desirable, expected) => {
    const pool = single(texts, lineage, means)
    expect(hasDesirableComponent(pool[0]!.components, pool[1]!.components, pool[2]!.components)).toBe(desirable)
    expect(eligibleAncestors(pool, 1, 2)).toEqual(expected)
  })

  it("finds the triplet (1, 2, 0), and none once it was tried", () => {
    const pool = single(["A", "A", "B"], lineage, [0.1, 0.6, 0.7])
    expect(findMergeTriplet(pool, [1, 2], new Set(), makeRng(0), 3)).toEqual({ first: 1, second: 2, ancestor: 0 })
    expect(findMergeTriplet(pool, [1, 2], new Set(["1/2/0"]), makeRng(0), 3)).toBeUndefined()
  })

  // DEVIATION (decision): the reference builds {pred: "B"} here and evaluates it; twoloop passes over a merged
  // child that equals one of its descendants (it is already in the pool).
  it("passes over a merged child equal to a descendant", () => {
    const pool = single(["A", "A", "B"], lineage, [0.1, 0.6, 0.7])
    expect(findMerge(pool, [1, 2], new Set(), makeRng(0), { sharedValidation: everyoneShares(5) })).toBeUndefined()
  })

  const twoComponents: Array<MergeView> = [
    { components: [["p", "A"], ["q", "X"]], parents: [], mean: 0.1 },
    { components: [["p", "A"], ["q", "Y"]], parents: [0], mean: 0.6 },
    { components: [["p", "B"], ["q", "X"]], parents: [0], mean: 0.7 },
  ]

  it("builds the combined child and its sources, and not again once they are remembered", () => {
    const plan = findMerge(twoComponents, [1, 2], new Set(), makeRng(0), { sharedValidation: everyoneShares(5) })
    expect(plan).toEqual({ triplet: { first: 1, second: 2, ancestor: 0 }, components: [["p", "B"], ["q", "Y"]], sources: [2, 1] })
    expect(findMerge(twoComponents, [1, 2], new Set(["1/2:2,1"]), makeRng(0), { sharedValidation: everyoneShares(5) })).toBeUndefined()
  })

  // Issue 14: the reference does not merge descendants sharing fewer validation ids than its overlap floor (5).
  it.each([
    [0, 1, false],
    [4, 5, false],
    [5, 5, true],
    [1, 2, false],
    [2, 2, true],
  ])("with %i shared validation ids and a floor of %i, merges: %s", (shared, floor, merges) => {
    const plan = findMerge(twoComponents, [1, 2], new Set(), makeRng(0), { sharedValidation: everyoneShares(shared), overlapFloor: floor })
    expect(plan !== undefined).toBe(merges)
  })

  it("defaults the overlap floor to 5", () => {
    expect(findMerge(twoComponents, [1, 2], new Set(), makeRng(0), { sharedValidation: everyoneShares(4) })).toBeUndefined()
    expect(findMerge(twoComponents, [1, 2], new Set(), makeRng(0), { sharedValidation: everyoneShares(5) })).toBeDefined()
  })

  /** Survivors 1, 2, 3 where 3 descends from 1: the pair (1, 3) is never mergeable, (1, 2) is. */
  const withDescendant: Array<MergeView> = [...twoComponents, { components: [["p", "A"], ["q", "Z"]], parents: [1], mean: 0.8 }]
  /** An RNG whose pair draws give (1, 3) until draw `eligibleAt`, then (1, 2). */
  const drawingPairs = (eligibleAt: number): Rng => {
    let picks = 0
    return {
      ...makeRng(0),
      pick: <A>(items: ReadonlyArray<A>) => {
        picks += 1
        const draw = Math.ceil(picks / 2)
        const wanted = picks % 2 === 1 ? 1 : draw >= eligibleAt ? 2 : 3
        return items.find((item) => item === wanted) as A
      },
    }
  }

  // Issue 14: the reference tries up to 10 rounds of 10 pair draws; twoloop drew 10 pairs before the fix.
  it("draws up to 100 pairs (10 rounds of 10) before giving up", () => {
    const search = { sharedValidation: everyoneShares(5) }
    expect(findMerge(withDescendant, [1, 2, 3], new Set(), drawingPairs(11), search)?.triplet).toEqual({ first: 1, second: 2, ancestor: 0 })
    expect(findMerge(withDescendant, [1, 2, 3], new Set(), drawingPairs(100), search)?.triplet).toEqual({ first: 1, second: 2, ancestor: 0 })
    expect(findMerge(withDescendant, [1, 2, 3], new Set(), drawingPairs(101), search)).toBeUndefined()
  })
})
