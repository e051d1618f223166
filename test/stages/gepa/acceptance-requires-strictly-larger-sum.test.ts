import { describe, expect, it } from "vitest"
import { isStrictImprovement } from "../../../stages/gepa/acceptance.ts"

describe("minibatch acceptance", () => {
  it("accepts a strictly larger sum", () => {
    expect(isStrictImprovement([0, 1, 0], [1, 1, 0])).toBe(true)
  })

  it("rejects an equal sum, even when individual scores differ", () => {
    expect(isStrictImprovement([1, 0, 0], [0, 0, 1])).toBe(false)
    expect(isStrictImprovement([0.5, 0.5], [1, 0])).toBe(false)
  })

  it("compares sums, not per-example dominance", () => {
    expect(isStrictImprovement([1, 1, 0], [0, 0, 3])).toBe(true)
  })

  it("rejects a smaller sum", () => {
    expect(isStrictImprovement([1, 1], [1, 0])).toBe(false)
  })

  it("never accepts when either side is missing", () => {
    expect(isStrictImprovement(undefined, [1, 1])).toBe(false)
    expect(isStrictImprovement([0, 0], undefined)).toBe(false)
    expect(isStrictImprovement(undefined, undefined)).toBe(false)
  })

  it("treats two empty batches as no improvement", () => {
    expect(isStrictImprovement([], [])).toBe(false)
  })
})
