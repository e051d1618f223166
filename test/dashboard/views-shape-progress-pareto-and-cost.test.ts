/** The pure shaping behind the dashboard's charts: running best, Pareto front over iterations, LLM cost line, previews. */
import { describe, expect, it } from "vitest"
import type { CandidateRecord, EvaluationRecord } from "../../src/domain/Candidate.ts"
import { llmView, type LlmCallRow } from "../../src/dashboard/llmView.ts"
import { frontOf, paretoOverIterations, scoreMatrix } from "../../src/dashboard/outerView.ts"
import { preview, type ProgressPoint, runningBest } from "../../src/dashboard/views.ts"

const point = (seq: number, purpose: string, status: string, metric: number | null): ProgressPoint => ({
  id: seq * 10,
  seq,
  purpose,
  status,
  metric,
  description: null,
  direction: null,
  rationale: null,
  reason: null,
  improvement: null,
  gate: null,
  runs: null,
  diff: null,
  diffTruncated: false,
})

describe("the running best", () => {
  it("starts at the baseline mean, steps at each kept experiment (its judged mean when it has one), and runs to the last point", () => {
    const points = [point(1, "baseline", "measured", 2.0), point(2, "baseline", "measured", 2.2), point(3, "candidate", "discard", 2.3), point(4, "candidate", "keep", 1.8), point(5, "candidate", "crash", null), point(6, "candidate", "keep", 1.5), point(7, "candidate", "discard", 1.6)]
    expect(runningBest(points, new Map([[60, 1.45]]))).toEqual([
      { x: 1, y: 2.1 },
      { x: 4, y: 1.8 },
      { x: 6, y: 1.45 },
      { x: 7, y: 1.45 },
    ])
  })

  it("is empty without points and starts at the first kept one without a baseline", () => {
    expect(runningBest([], new Map())).toEqual([])
    expect(runningBest([point(1, "promote", "keep", 3), point(2, "candidate", "discard", 4)], new Map())).toEqual([
      { x: 1, y: 3 },
      { x: 2, y: 3 },
    ])
  })
})

const candidate = (idx: number, iteration: number, parents: Array<number> = []): CandidateRecord => ({
  idx,
  hash: `h${idx}`,
  components: [["instructions", `text ${idx}`]],
  parents,
  origin: idx === 0 ? "seed" : "reflection",
  libraryEntryId: null,
  iteration,
  metricCalls: iteration * 3,
  offline: true,
})

const evaluation = (idx: number, exampleId: string, score: number, split: "val" | "train" = "val"): EvaluationRecord => ({
  candidateHash: `h${idx}`,
  split,
  exampleId,
  score,
  output: null,
  trajectory: null,
  chargedIteration: 0,
})

describe("the outer stage's matrix and Pareto front", () => {
  const candidates = [candidate(0, 0), candidate(1, 2, [0]), candidate(2, 3, [1])]
  const evaluations = [
    evaluation(0, "s0", 0.5),
    evaluation(0, "s1", 0.5),
    evaluation(0, "s10", 0.9),
    evaluation(1, "s0", 0.7),
    evaluation(1, "s1", 0.4),
    evaluation(1, "s10", 0.9),
    evaluation(2, "s0", 0.6),
    evaluation(2, "s1", 0.45),
    evaluation(2, "s10", 0.2),
    evaluation(2, "s0", 0.1, "train"),
  ]

  it("orders scenarios naturally and takes the validation split", () => {
    const matrix = scoreMatrix(candidates, evaluations)
    expect(matrix.split).toBe("val")
    expect(matrix.examples).toEqual(["s0", "s1", "s10"])
    expect(matrix.rows[1]).toEqual({ idx: 1, scores: [0.7, 0.4, 0.9], mean: 2 / 3 })
  })

  it("keeps every candidate that is best on some scenario, ties included", () => {
    const matrix = scoreMatrix(candidates, evaluations)
    expect(frontOf(matrix, new Set([0, 1, 2]))).toEqual([0, 1])
    expect(frontOf(matrix, new Set([0]))).toEqual([0])
  })

  it("replays the pool iteration by iteration", () => {
    const steps = paretoOverIterations(candidates, scoreMatrix(candidates, evaluations), 4)
    expect(steps.map((s) => [s.iteration, s.candidates, s.front])).toEqual([
      [0, 1, [0]],
      [1, 1, [0]],
      [2, 2, [0, 1]],
      [3, 3, [0, 1]],
      [4, 3, [0, 1]],
    ])
    expect(steps[2]!.frontScore).toBeCloseTo((0.7 + 0.5 + 0.9) / 3, 12)
    expect(steps[2]!.bestScore).toBeCloseTo(2 / 3, 12)
  })
})

const call = (id: number, at: string, costUsd: number | null, extra: Partial<LlmCallRow> = {}): LlmCallRow => ({
  id,
  stageId: null,
  purpose: "code-search.propose",
  model: "openai:test",
  inputTokens: 100,
  outputTokens: 20,
  costUsd,
  latencyMs: 1500,
  cached: false,
  attempt: 1,
  error: null,
  createdAt: at,
  ...extra,
})

describe("the LLM timeline", () => {
  it("accumulates known costs over seconds since the run started, and says when a price is missing", () => {
    const view = llmView([call(1, "2026-01-01T00:00:02.000Z", 0.01), call(2, "2026-01-01T00:00:05.000Z", null), call(3, "2026-01-01T00:00:09.500Z", 0.02, { purpose: "gepa.reflection" })], "2026-01-01T00:00:00.000Z")
    expect(view.calls.map((c) => [c.seconds, c.cumulativeCostUsd])).toEqual([
      [2, 0.01],
      [5, 0.01],
      [9.5, 0.03],
    ])
    expect(view.costKnown).toBe(false)
    expect(view.byPurpose).toEqual([
      { purpose: "code-search.propose", calls: 2, inputTokens: 200, outputTokens: 40, costUsd: null, errors: 0 },
      { purpose: "gepa.reflection", calls: 1, inputTokens: 100, outputTokens: 20, costUsd: 0.02, errors: 0 },
    ])
  })

  it("does not count cached or failed calls without a price as unknown cost", () => {
    const view = llmView([call(1, "2026-01-01T00:00:01Z", null, { cached: true }), call(2, "2026-01-01T00:00:02Z", null, { error: "http 500" })], "2026-01-01T00:00:00Z")
    expect(view.costKnown).toBe(true)
    expect(view.byPurpose[0]).toMatchObject({ costUsd: 0, errors: 1 })
  })
})

describe("previews sent to the browser", () => {
  it("bound text by lines and characters and say when they cut", () => {
    expect(preview(null)).toEqual({ text: null, truncated: false })
    expect(preview("a\nb")).toEqual({ text: "a\nb", truncated: false })
    expect(preview("1\n2\n3\n4", 2)).toEqual({ text: "1\n2", truncated: true })
    expect(preview("x".repeat(50), 10, 20)).toEqual({ text: "x".repeat(20), truncated: true })
  })
})
