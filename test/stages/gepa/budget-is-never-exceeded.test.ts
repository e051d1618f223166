import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { budgetStopReason, canAfford, optimize, reflectiveIterationCost } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { tempDir } from "../../support/tmp.ts"
import { appendMissingWord, engineLayer, examples, keywordAdapter, reflectionModel } from "./support.ts"

const keywords = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]
const use = { iterations: 0, metricCalls: 0, reflectionCostUsd: 0, elapsedSeconds: 0, iterationsWithoutImprovement: 0, bestMean: 0, idleIterations: 0 }

describe("budget rules", () => {
  it("reserves the worst case of an iteration: parent, child minibatch and a full validation", () => {
    expect(reflectiveIterationCost(2, 3, 10)).toBe(15)
    expect(canAfford({ metricCalls: 40 }, 25, 15)).toBe(true)
    expect(canAfford({ metricCalls: 40 }, 26, 15)).toBe(false)
    expect(canAfford({}, 1e9, 15)).toBe(true)
  })

  it("OR-combines the stop conditions", () => {
    expect(budgetStopReason({ metricCalls: 10 }, { ...use, metricCalls: 10 })).toBe("metric-calls")
    expect(budgetStopReason({ costUsd: 0.5 }, { ...use, reflectionCostUsd: 0.5 })).toBe("cost")
    expect(budgetStopReason({ seconds: 60 }, { ...use, elapsedSeconds: 61 })).toBe("time")
    expect(budgetStopReason({ patience: 3 }, { ...use, iterationsWithoutImprovement: 3 })).toBe("patience")
    expect(budgetStopReason({ scoreThreshold: 0.9 }, { ...use, bestMean: 0.95 })).toBe("score-threshold")
    expect(budgetStopReason({ iterations: 4, metricCalls: 100 }, { ...use, iterations: 4 })).toBe("iterations")
    expect(budgetStopReason({ metricCalls: 10 }, { ...use, idleIterations: 12 }, 12)).toBe("stalled")
    expect(budgetStopReason({ metricCalls: 10, patience: 3, costUsd: 1 }, { ...use, metricCalls: 9, iterationsWithoutImprovement: 2, idleIterations: 11 }, 12)).toBeUndefined()
  })
})

describe("metric-call budget in a run", () => {
  for (const cache of [true, false])
    for (const budget of [10, 23, 37, 58])
      it.effect(`never calls the adapter more than ${budget} times with concurrency 4 (cache ${cache ? "on" : "off"})`, () => {
        const model = scriptedModel([appendMissingWord])
        const { adapter, counters } = keywordAdapter({ beforeEvaluate: () => Effect.yieldNow })
        return Effect.gen(function* () {
          const result = yield* optimize({
            adapter,
            seedCandidate: { instruction: "go" },
            trainset: examples("t", keywords),
            valset: examples("v", keywords.slice(0, 6)),
            reflectionModel,
            budget: { metricCalls: budget },
            minibatchSize: 4,
            concurrency: 4,
            cache,
            skipPerfect: false,
          })
          expect(counters.started).toBeLessThanOrEqual(budget)
          expect(result.metricCalls).toBe(counters.started)
          expect(result.stopReason).toBe("metric-calls")
          // the refused iteration's worst case is at most an uncached parent + child minibatch + validation
          expect(budget - result.metricCalls).toBeLessThan(reflectiveIterationCost(4, 4, 6))
          expect(counters.peakInFlight).toBeGreaterThan(1)
        }).pipe(Effect.provide(engineLayer(model)))
      })

  for (const cache of [true, false])
    for (const budget of [10, 23, 37])
      it.effect(`never charges more than ${budget} metric calls at gepa's count with reference accounting (cache ${cache ? "on" : "off"})`, () => {
        const { adapter, counters } = keywordAdapter({ beforeEvaluate: () => Effect.yieldNow })
        return Effect.gen(function* () {
          const result = yield* optimize({
            adapter,
            seedCandidate: { instruction: "go" },
            trainset: examples("t", keywords),
            valset: examples("v", keywords.slice(0, 6)),
            reflectionModel,
            budget: { metricCalls: budget, accounting: "reference" },
            minibatchSize: 4,
            concurrency: 4,
            cache,
            skipPerfect: false,
          })
          expect(result.metricCalls).toBe(result.referenceMetricCalls)
          expect(result.referenceMetricCalls).toBeLessThanOrEqual(budget)
          expect(result.stopReason).toBe("metric-calls")
          expect(budget - result.referenceMetricCalls).toBeLessThan(reflectiveIterationCost(4, 4, 6))
          expect(result.evaluationsRun).toBe(counters.started)
          expect(result.evaluationsRun).toBeLessThanOrEqual(result.referenceMetricCalls)
        }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord]))))
      })

  it.effect("refuses a budget that cannot pay for the seed's validation", () => {
    const { adapter, counters } = keywordAdapter()
    return Effect.gen(function* () {
      const error = yield* Effect.flip(
        optimize({ adapter, seedCandidate: { instruction: "go" }, trainset: examples("t", keywords), valset: examples("v", keywords), reflectionModel, budget: { metricCalls: 9 } }),
      )
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toContain("cannot pay for the seed's validation (10 evaluations)")
      expect(counters.started).toBe(0)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["x"]))))
  })

  it.effect("stops at the next boundary once the stop file appears", () => {
    const stopFile = path.join(tempDir(), "STOP")
    let evaluations = 0
    const { adapter } = keywordAdapter({
      beforeEvaluate: () => Effect.sync(() => (evaluations += 1) === 20 && fs.writeFileSync(stopFile, "")),
    })
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords),
        valset: examples("v", keywords),
        reflectionModel,
        budget: { metricCalls: 1000 },
        stopFile,
      })
      expect(result.stopReason).toBe("stop-file")
      expect(result.metricCalls).toBeLessThan(40)
    }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord]))))
  })

  it.effect("stops after `patience` iterations without a new best", () =>
    Effect.gen(function* () {
      const result = yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords),
        valset: examples("v", keywords),
        reflectionModel,
        budget: { patience: 2 },
      })
      expect(result.stopReason).toBe("patience")
      expect(result.candidates).toHaveLength(1)
      expect(result.iterations).toBe(2)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["```\nunhelpful words\n```"])))))

  it.effect("stops as stalled when iterations keep charging nothing (a perfect seed is skipped for free)", () => {
    const { adapter, counters } = keywordAdapter()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: keywords.slice(0, 6).join(" ") },
        trainset: examples("t", keywords.slice(0, 6)),
        valset: examples("v", keywords.slice(0, 6)),
        reflectionModel,
        budget: { metricCalls: 1000 },
      })
      // two iterations evaluate the seed on the six train examples, then ten skip on cached minibatches
      expect(result.stopReason).toBe("stalled")
      expect(result.iterations).toBe(12)
      expect(result.metricCalls).toBe(6 + 6)
      expect(counters.started).toBe(12)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"]))))
  })

  it.effect("stops once the reflection calls have cost the USD budget", () =>
    Effect.gen(function* () {
      // the mock reports 100 input and 50 output tokens; the test price makes each reflection $0.0002
      const result = yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords),
        valset: examples("v", keywords),
        reflectionModel,
        budget: { costUsd: 0.0005 },
      })
      expect(result.stopReason).toBe("cost")
      expect(result.iterations).toBe(3)
      expect(result.reflectionCostUsd).toBeCloseTo(0.0006, 12)
    }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord])))))

  it.effect("stops once the best validation mean reaches the score threshold", () =>
    Effect.gen(function* () {
      const result = yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords.slice(0, 4)),
        valset: examples("v", keywords.slice(0, 4)),
        reflectionModel,
        budget: { metricCalls: 1000, scoreThreshold: 0.5 },
        minibatchSize: 4,
      })
      expect(result.stopReason).toBe("score-threshold")
      expect(result.best.mean).toBe(0.5)
      expect(result.candidates).toHaveLength(3)
    }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord])))))

  // The engine reads Effect's Clock; under it.effect that is a test clock, which only the evaluations move
  // (50 ms each here), so when the budget runs out does not depend on how fast the machine is.
  it.effect("stops once the wall-time budget is spent", () =>
    Effect.gen(function* () {
      const { adapter, counters } = keywordAdapter({ beforeEvaluate: () => TestClock.adjust("50 millis") })
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords),
        valset: examples("v", keywords),
        reflectionModel,
        budget: { seconds: 3 },
      })
      expect(result.stopReason).toBe("time")
      // 71 evaluations: 3.55 s by this clock, the budget crossed during the fourth iteration
      expect({ iterations: result.iterations, evaluations: counters.started }).toEqual({ iterations: 4, evaluations: 71 })
    }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord])))))

  it.effect("stops when the caller asks to", () => {
    let asked = 0
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: { instruction: "go" },
        trainset: examples("t", keywords),
        valset: examples("v", keywords),
        reflectionModel,
        budget: { metricCalls: 1000 },
        shouldStop: Effect.sync(() => ++asked > 2),
      })
      expect(result.stopReason).toBe("stop-requested")
      expect(result.iterations).toBe(2)
    }).pipe(Effect.provide(engineLayer(scriptedModel([appendMissingWord]))))
  })
})
