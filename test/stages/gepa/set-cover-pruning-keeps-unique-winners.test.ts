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

/** The spec's procedure word for word: restart the ascending scan after every removal. */
const restartingScan = (fronts: Fronts, means: ReadonlyArray<number>): Fronts => {
  const all = [...new Set(Object.values(fronts).flat())].sort((a, b) => means[a]! - means[b]! || a - b)
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

describe("set-cover dominance pruning", () => {
  it("removes a candidate whose every front has another survivor, keeping unique winners", () => {
    const pruned = pruneDominated({ e1: [0, 1], e2: [1], e3: [2] }, [0.2, 0.5, 0.4])
    expect(pruned).toEqual({ e1: [1], e2: [1], e3: [2] })
  })

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

  it("removes the lower-mean one of two candidates covering each other (ties: lower index first)", () => {
    expect(pruneDominated({ e1: [0, 1] }, [0.3, 0.6])).toEqual({ e1: [1] })
    expect(pruneDominated({ e1: [0, 1] }, [0.6, 0.3])).toEqual({ e1: [0] })
    expect(pruneDominated({ e1: [0, 1] }, [0.5, 0.5])).toEqual({ e1: [1] })
  })

  it("removes in ascending order until no more can go", () => {
    expect(pruneDominated({ e1: [0, 1, 2], e2: [1, 2] }, [0.1, 0.2, 0.3])).toEqual({ e1: [2], e2: [2] })
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
