import { describe, expect, it } from "vitest"
import { judge, pooledNoise } from "../../../stages/code-search/keepRule.ts"

const options = { minDelta: 0, noiseK: 2, confirmRuns: 2, confirmFrom: 0 }

describe("noise-aware keep rule", () => {
  it("pools the standard deviation over groups of repeated runs", () => {
    expect(pooledNoise([[1, 1]])).toEqual({ sigma: 0, dof: 1 })
    const noise = pooledNoise([[1.0, 1.2], [2.0, 2.2, 2.4], [5]])
    // squares: 0.02 + 0.08 = 0.10 over dof 1 + 2 = 3
    expect(noise.dof).toBe(3)
    expect(noise.sigma).toBeCloseTo(Math.sqrt(0.1 / 3), 12)
    expect(pooledNoise([[3]])).toEqual({ sigma: 0, dof: 0 })
  })

  it("keeps an improvement above the gate and records the numbers", () => {
    const noise = { sigma: 0.01, dof: 1 }
    const j = judge({ direction: "minimize", incumbentRuns: [1.0, 1.02], candidateRuns: [0.9], noise, confirmsDone: 0, canConfirm: true }, options)
    expect(j.verdict).toBe("keep")
    expect(j.gate).toBeCloseTo(2 * 0.01 * Math.sqrt(1 + 1 / 2), 12)
    expect(j.improvement).toBeCloseTo(0.11, 12)
    expect(j.incumbent).toBeCloseTo(1.01, 12)
  })

  it("asks for confirmation inside the grey zone, then judges on the mean", () => {
    const noise = { sigma: 0.05, dof: 1 }
    const first = judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.95], noise, confirmsDone: 0, canConfirm: true }, options)
    expect(first.verdict).toBe("confirm")
    const later = judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.95, 0.93, 0.94], noise, confirmsDone: 2, canConfirm: true }, options)
    // gate = 2 * 0.05 * sqrt(1/3 + 1/2) = 0.0913; improvement 0.06 -> discard after 2 confirms
    expect(later.verdict).toBe("discard")
    expect(later.reason).toContain("after 2 confirm runs")
    const strong = judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.95, 0.88, 0.87], noise, confirmsDone: 2, canConfirm: true }, options)
    expect(strong.verdict).toBe("keep")
  })

  it("discards a non-improvement, and a grey-zone result when no budget is left", () => {
    const noise = { sigma: 0.05, dof: 1 }
    expect(judge({ direction: "maximize", incumbentRuns: [1], candidateRuns: [0.99], noise, confirmsDone: 0, canConfirm: true }, options).verdict).toBe("discard")
    const broke = judge({ direction: "maximize", incumbentRuns: [1], candidateRuns: [1.01], noise, confirmsDone: 0, canConfirm: false }, options)
    expect(broke.verdict).toBe("discard")
    expect(broke.reason).toContain("no budget left")
  })

  it("spends confirm runs only on candidates above confirmFrom of the gate", () => {
    const noise = { sigma: 0.05, dof: 4 }
    const half = { ...options, confirmFrom: 0.5 }
    // gate = 2 * 0.05 * sqrt(1 + 1/2) = 0.1225: confirm runs from 0.0612
    const small = judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.95], noise, confirmsDone: 0, canConfirm: true }, half)
    expect(small.verdict).toBe("discard")
    expect(small.reason).toContain("too small to be told from noise")
    expect(judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.93], noise, confirmsDone: 0, canConfirm: true }, half).verdict).toBe("confirm")
    expect(judge({ direction: "minimize", incumbentRuns: [1.0, 1.0], candidateRuns: [0.95], noise, confirmsDone: 0, canConfirm: true }, options).verdict).toBe("confirm")
  })

  it("uses minDelta when the noise is unknown or smaller", () => {
    const j = judge({ direction: "minimize", incumbentRuns: [1], candidateRuns: [0.99], noise: { sigma: 0, dof: 0 }, confirmsDone: 0, canConfirm: true }, { ...options, minDelta: 0.02 })
    expect(j.gate).toBe(0.02)
    expect(j.verdict).toBe("confirm")
    expect(j.reason).toContain("σ unknown")
  })
})
