/**
 * The noise-aware keep rule. The noise σ is the pooled standard deviation of every group of repeated runs
 * at the same code (baseline repeats, a candidate and its confirm reruns). A candidate with mean m over n
 * runs against an incumbent with mean μ over k runs has improvement Δ (positive = better) and is judged
 * against the gate g = max(minDelta, noiseK · σ · √(1/n + 1/k)), the noise of a difference of two means:
 *   Δ > g               keep
 *   c·g < Δ ≤ g         confirm (rerun with new seeds) while confirm runs remain, then judged again
 *   otherwise           discard
 * where c (`confirmFrom`, default ½) keeps confirm runs for candidates the noise is unlikely to explain: an
 * edit that does nothing lands above ½·g on one run about one time in six instead of one time in two.
 * With one candidate run against k ≥ 1 incumbent runs the gate is at least noiseK · σ. Pure.
 */
import type { MetricDirection } from "../../src/config.ts"
import type { Judgement } from "../../src/domain/Experiment.ts"
import { mean } from "../../src/common/stats.ts"

export interface NoiseEstimate {
  readonly sigma: number
  /** Degrees of freedom behind σ (0: no repeated runs yet, σ = 0). */
  readonly dof: number
}

/** Pooled standard deviation over groups of repeated measurements of the same code. */
export const pooledNoise = (groups: ReadonlyArray<ReadonlyArray<number>>): NoiseEstimate => {
  let squares = 0
  let dof = 0
  for (const group of groups) {
    if (group.length < 2) continue
    const m = mean(group)
    for (const value of group) squares += (value - m) ** 2
    dof += group.length - 1
  }
  return dof === 0 ? { sigma: 0, dof: 0 } : { sigma: Math.sqrt(squares / dof), dof }
}

export const improvement = (direction: MetricDirection, incumbent: number, candidate: number) =>
  direction === "minimize" ? incumbent - candidate : candidate - incumbent

export interface KeepRuleOptions {
  readonly minDelta: number
  readonly noiseK: number
  readonly confirmRuns: number
  /** Fraction of the gate a candidate's mean must exceed to earn a confirm run (0: any improvement). */
  readonly confirmFrom: number
}

export interface JudgeInput {
  readonly direction: MetricDirection
  readonly incumbentRuns: ReadonlyArray<number>
  readonly candidateRuns: ReadonlyArray<number>
  readonly noise: NoiseEstimate
  /** Confirm reruns already done for this candidate. */
  readonly confirmsDone: number
  /** False when the experiment budget cannot pay for another rerun. */
  readonly canConfirm: boolean
}

/** The gate a mean of `n` candidate runs must clear against an incumbent measured `k` times. */
export const keepGate = (options: Pick<KeepRuleOptions, "minDelta" | "noiseK">, sigma: number, n: number, k: number): number =>
  Math.max(options.minDelta, options.noiseK * sigma * Math.sqrt(1 / n + 1 / k))

export const judge = (input: JudgeInput, options: KeepRuleOptions): Judgement => {
  const incumbent = mean(input.incumbentRuns)
  const candidateMean = mean(input.candidateRuns)
  const n = input.candidateRuns.length
  const k = input.incumbentRuns.length
  const delta = improvement(input.direction, incumbent, candidateMean)
  const gate = keepGate(options, input.noise.sigma, n, k)
  const numbers = {
    incumbent,
    candidateMean,
    runs: n,
    improvement: delta,
    sigma: input.noise.sigma,
    gate,
    minDelta: options.minDelta,
    noiseK: options.noiseK,
  }
  const show = (x: number) => Number(x.toPrecision(4))
  const noiseNote = input.noise.dof === 0 ? " (no repeated runs yet: σ unknown, gate is minDelta)" : ""
  if (delta > gate)
    return { verdict: "keep", ...numbers, reason: `improvement ${show(delta)} > gate ${show(gate)} over ${n} run${n === 1 ? "" : "s"}${noiseNote}` }
  if (delta > 0 && delta > options.confirmFrom * gate && input.confirmsDone < options.confirmRuns && input.canConfirm)
    return { verdict: "confirm", ...numbers, reason: `improvement ${show(delta)} within the noise gate ${show(gate)}: rerun with another seed${noiseNote}` }
  const why =
    delta <= 0
      ? `no improvement (${show(delta)})`
      : delta <= options.confirmFrom * gate
        ? `improvement ${show(delta)} too small to be told from noise (gate ${show(gate)}; confirm runs from ${show(options.confirmFrom * gate)})`
        : input.confirmsDone >= options.confirmRuns
        ? `improvement ${show(delta)} stayed within the gate ${show(gate)} after ${input.confirmsDone} confirm run${input.confirmsDone === 1 ? "" : "s"}`
        : `improvement ${show(delta)} within the gate ${show(gate)} and no budget left to confirm`
  return { verdict: "discard", ...numbers, reason: `${why}${noiseNote}` }
}
