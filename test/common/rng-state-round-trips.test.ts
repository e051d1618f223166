import { describe, expect, it } from "vitest"
import { makeRng } from "../../src/common/rng.ts"

describe("seeded rng", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = Array.from({ length: 5 }, makeRng(7).next)
    const b = makeRng(7)
    expect(Array.from({ length: 5 }, b.next)).toEqual(a)
    expect(Array.from({ length: 5 }, makeRng(8).next)).not.toEqual(a)
  })

  it("continues identically from a saved state", () => {
    const rng = makeRng(42)
    for (let i = 0; i < 10; i++) rng.next()
    const saved = rng.state()
    const expected = Array.from({ length: 20 }, rng.next)
    const restored = makeRng(JSON.parse(JSON.stringify(saved)))
    expect(Array.from({ length: 20 }, restored.next)).toEqual(expected)
  })

  it("draws roughly uniform integers", () => {
    const rng = makeRng(1)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 40_000; i++) counts[rng.int(4)]! += 1
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(400)
  })
})
