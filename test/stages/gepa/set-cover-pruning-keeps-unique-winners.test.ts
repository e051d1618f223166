import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import {
  buildFronts,
  type Fronts,
  pruneDominated,
  selectCurrentBest,
  selectEpsilonGreedy,
  selectParetoParent,
} from "../../../stages/gepa/pareto.ts"

const scores = (entries: Record<string, number>) => new Map(Object.entries(entries))

/**
 * The reference's procedure step by step: candidates in order of first appearance on a front, stably sorted
 * ascending by mean; restart the scan after every removal.
 */
const restartingScan = (fronts: Fronts, means: ReadonlyArray<number>): Fronts => {
  const all = [...new Set(Object.values(fronts).flat())].sort((a, b) => means[a]! - means[b]!)
  const removed = new Set<number>()
  for (let found = true; found; ) {
    found = false
    for (const y of all) {
      if (removed.has(y)) continue
      const containing = Object.values(fronts).filter((front) => front.includes(y))
      if (containing.every((front) => front.some((other) => other !== y && !removed.has(other)))) {
        removed.add(y)
        found = true
        break
      }
    }
  }
  return Object.fromEntries(Object.entries(fronts).map(([id, front]) => [id, front.filter((c) => !removed.has(c))]))
}

describe("per-example Pareto fronts", () => {
  it("lets ties join a front and a strictly better score replace it", () => {
    const fronts = buildFronts([scores({ a: 0.5, b: 1 }), scores({ a: 0.5, b: 0 }), scores({ a: 0.7, b: 1 })])
    expect(fronts).toEqual({ a: [2], b: [0, 2] })
  })
})

describe("set-cover dominance pruning, reference cases", () => {
  // name, fronts, mean scores, the fronts after pruning as the reference's procedure leaves them
  const cases: ReadonlyArray<readonly [string, Fronts, ReadonlyArray<number>, Fronts]> = [
    // the reference's selection test: 0 is on no front without 1, and has the lower mean
    ["a lower-mean candidate covered by another", { val0: [0, 1], val1: [1] }, [0.3, 0.6], { val0: [1], val1: [1] }],
    ["unique winners stay", { e1: [0, 1], e2: [1], e3: [2] }, [0.2, 0.5, 0.4], { e1: [1], e2: [1], e3: [2] }],
    ["the lower mean of two covering each other goes", { e1: [0, 1] }, [0.3, 0.6], { e1: [1] }],
    ["the lower mean goes whatever the index", { e1: [0, 1] }, [0.6, 0.3], { e1: [0] }],
    ["ascending removal until none can go", { e1: [0, 1, 2], e2: [1, 2] }, [0.1, 0.2, 0.3], { e1: [2], e2: [2] }],
    ["a generalist with a low mean is pruned", { e1: [0, 1], e2: [0, 2] }, [0.1, 0.5, 0.6], { e1: [1], e2: [2] }],
    ["a generalist with a high mean prunes the specialists", { e1: [0, 1], e2: [0, 2] }, [0.9, 0.5, 0.6], { e1: [0], e2: [0] }],
    ["equal means: the first to appear on a front goes first", { e1: [0, 1] }, [0.5, 0.5], { e1: [1] }],
    // Issue 14: ties go by first appearance (2 appears on e0 before 1 appears on e1), not by index. Breaking
    // the tie by index (twoloop before the fix) removed 1 first and kept only 2.
    ["equal means: first appearance, not index", { e0: [0, 2], e1: [1, 2] }, [0.6, 0.5, 0.5], { e0: [0], e1: [1] }],
    ["no candidate on any front", { val0: [] }, [0.1, 0.9], { val0: [] }],
  ]
  it.each(cases)("%s", (_name, fronts, means, expected) => {
    expect(pruneDominated(fronts, means)).toEqual(expected)
    expect(restartingScan(fronts, means)).toEqual(expected)
  })

  it("selects the current best when no candidate is on any front (reference: falls back to idxmax)", () => {
    expect(selectParetoParent({ val0: [] }, [0.1, 0.9], () => 0.3)).toBe(1)
  })
})

describe("set-cover dominance pruning", () => {
  it("prunes a candidate that vector dominance would keep", () => {
    const perCandidate = [scores({ e1: 1, e2: 0.9, e3: 0 }), scores({ e1: 1, e2: 0, e3: 1 }), scores({ e1: 0, e2: 1, e3: 1 })]
    const fronts = buildFronts(perCandidate)
    expect(fronts).toEqual({ e1: [0, 1], e2: [2], e3: [1, 2] })
    const dominatedByVector = (y: number) =>
      perCandidate.some((other, x) => x !== y && [...other].every(([id, s]) => s >= perCandidate[y]!.get(id)!) && [...other].some(([id, s]) => s > perCandidate[y]!.get(id)!))
    expect(dominatedByVector(0)).toBe(false)
    const means = perCandidate.map((m) => [...m.values()].reduce((a, b) => a + b) / m.size)
    expect(pruneDominated(fronts, means)).toEqual({ e1: [1], e2: [2], e3: [1, 2] })
  })

  it("matches the restart-scan procedure on many random front sets", () => {
    const rng = makeRng(11)
    for (let trial = 0; trial < 300; trial++) {
      const candidates = 2 + rng.int(7)
      const fronts: Fronts = {}
      for (let e = 0; e < 1 + rng.int(8); e++) {
        const members = [...new Set(Array.from({ length: 1 + rng.int(4) }, () => rng.int(candidates)))]
        fronts[`e${e}`] = members
      }
      const means = Array.from({ length: candidates }, () => rng.int(4) / 4)
      expect(pruneDominated(fronts, means)).toEqual(restartingScan(fronts, means))
    }
  })
})

describe("parent selectors", () => {
  it("samples a Pareto parent in proportion to the pruned fronts it is on", () => {
    const fronts = { e1: [0, 1], e2: [2], e3: [1, 2], e4: [1] }
    const means = [0.633, 0.7, 0.667]
    expect(selectParetoParent(fronts, means, () => 0)).toBe(1)
    expect(selectParetoParent(fronts, means, () => 0.59)).toBe(1)
    expect(selectParetoParent(fronts, means, () => 0.61)).toBe(2)
    const rng = makeRng(3)
    const counts = [0, 0, 0]
    for (let i = 0; i < 10_000; i++) counts[selectParetoParent(fronts, means, rng.next)]! += 1
    expect(counts[0]).toBe(0)
    expect(counts[1]! / 10_000).toBeCloseTo(3 / 5, 1)
    expect(counts[2]! / 10_000).toBeCloseTo(2 / 5, 1)
  })

  it("picks the current best with the first index winning ties", () => {
    expect(selectCurrentBest([0.5, 0.7, 0.7])).toBe(1)
    expect(selectCurrentBest([0.9])).toBe(0)
  })

  it("explores uniformly with probability epsilon and exploits otherwise", () => {
    const draws = (values: Array<number>) => () => values.shift()!
    expect(selectEpsilonGreedy([0.1, 0.9, 0.5], 0.2, draws([0.5]))).toBe(1)
    expect(selectEpsilonGreedy([0.1, 0.9, 0.5], 0.2, draws([0.1, 0.0]))).toBe(0)
    expect(selectEpsilonGreedy([0.1, 0.9, 0.5], 0.2, draws([0.1, 0.99]))).toBe(2)
  })
})
