/**
 * Both metric-call counts: the evaluations actually run (the evaluation cache saves repeats) and gepa's
 * count for the same steps (every minibatch's length, padded repeats included, cache or not; the whole
 * validation set per full validation). `budget.accounting` picks the one the budget counts.
 *
 * The run below is the same whatever the shuffle: 4 train ids and minibatches of 3 give the epoch list
 * x0 x1 x2 | x3 x3 x2, so iteration 2 meets x2 again (cached for candidate 1) and x3 twice.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ExampleEvaluation, GepaAdapter } from "../../../stages/gepa/adapter.ts"
import { type Budget, makeMemoryStatePort, optimize } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { appendMissingWord, engineLayer, examples, keywordAdapter, type KeywordExample, reflectionModel } from "./support.ts"

const run = (budget: Budget, cache = true) => {
  const { adapter, counters } = keywordAdapter()
  const port = makeMemoryStatePort()
  return optimize({
    adapter,
    seedCandidate: { instruction: "solve" },
    trainset: examples("t", ["alpha", "beta", "gamma", "delta"]),
    valset: examples("v", ["alpha", "beta", "gamma"]),
    state: port,
    reflectionModel,
    budget,
    cache,
  }).pipe(
    Effect.map((result) => ({ result, counters, proposals: port.proposals() })),
    Effect.provide(engineLayer(scriptedModel([appendMissingWord]))),
  )
}

describe("metric-call accounting", () => {
  it.effect("counts evaluations run and gepa's metric calls side by side (cache on)", () =>
    Effect.gen(function* () {
      const { result, counters, proposals } = yield* run({ iterations: 2 })
      expect(proposals.map((p) => [p.kind, p.accepted, p.minibatch.length, new Set(p.minibatch).size])).toEqual([
        ["reflection", true, 3, 3],
        ["reflection", true, 3, 2],
      ])
      // seed validation 3; iteration 1: parent 3 + child 3 + validation 3;
      // iteration 2: parent 1 (x3; x2 is cached) + child 2 (x3, x2) + validation 3
      expect(result.evaluationsRun).toBe(3 + 9 + 6)
      expect(counters.started).toBe(result.evaluationsRun)
      // gepa: seed 3; each iteration: parent 3 + child 3 + validation 3
      expect(result.referenceMetricCalls).toBe(3 + 9 + 9)
      expect(result.accounting).toBe("runs")
      expect(result.metricCalls).toBe(result.evaluationsRun)
      expect(proposals.map((p) => p.metricCalls)).toEqual([12, 18])
    }))

  it.effect("without the cache, runs every batch's distinct ids; gepa's count does not change", () =>
    Effect.gen(function* () {
      const { result, counters } = yield* run({ iterations: 2 }, false)
      expect(result.evaluationsRun).toBe(3 + 9 + (2 + 2 + 3))
      expect(counters.started).toBe(result.evaluationsRun)
      expect(result.referenceMetricCalls).toBe(21)
    }))

  it.effect("with `reference` accounting, the budget counts gepa's metric calls", () =>
    Effect.gen(function* () {
      const reference = yield* run({ metricCalls: 20, accounting: "reference" })
      // iteration 2 may cost 3 + 3 + 3 more at gepa's count: 12 + 9 > 20
      expect(reference.result).toMatchObject({ stopReason: "metric-calls", iterations: 1, metricCalls: 12, referenceMetricCalls: 12, evaluationsRun: 12, accounting: "reference" })
      expect(reference.proposals.map((p) => p.metricCalls)).toEqual([12])

      const exact = yield* run({ metricCalls: 21, accounting: "reference" })
      expect(exact.result).toMatchObject({ stopReason: "metric-calls", iterations: 2, metricCalls: 21, evaluationsRun: 18 })
      expect(exact.proposals.map((p) => p.metricCalls)).toEqual([12, 21])

      // counting runs, the same budget of 20 pays for iteration 2 (worst case 1 + 2 + 3 more)
      const runs = yield* run({ metricCalls: 20 })
      expect(runs.result.iterations).toBeGreaterThan(1)
      expect(runs.proposals[1]!.metricCalls).toBe(18)
    }))
})

describe("results that ran nothing", () => {
  const optimizeWith = (adapter: GepaAdapter<KeywordExample>, trainset: ReturnType<typeof examples>, valset: ReturnType<typeof examples>) => {
    const port = makeMemoryStatePort()
    return optimize({ adapter, seedCandidate: { instruction: "solve" }, trainset, valset, state: port, reflectionModel, budget: { iterations: 2 } }).pipe(
      Effect.provide(engineLayer(scriptedModel([appendMissingWord]))),
    )
  }

  it.effect("a validation result an adapter shares with training is the training result, and not a run", () =>
    Effect.gen(function* () {
      const shared = examples("s", ["alpha", "beta", "gamma"])
      const plain = keywordAdapter()
      const withSharing = keywordAdapter()
      const separate = yield* optimizeWith(plain.adapter, shared, shared)
      const together = yield* optimizeWith({ ...withSharing.adapter, splitsShareResults: true }, shared, shared)
      // the same decisions and scores, fewer runs: each accepted child's validation reuses its minibatch results
      expect(together.candidates.map((c) => [c.components, [...c.valScores]])).toEqual(separate.candidates.map((c) => [c.components, [...c.valScores]]))
      expect(together.referenceMetricCalls).toBe(separate.referenceMetricCalls)
      expect(together.evaluationsRun).toBeLessThan(separate.evaluationsRun)
      expect(withSharing.counters.started).toBe(together.evaluationsRun)
    }))

  it.effect("a result the adapter served from an identical earlier run is refunded", () =>
    Effect.gen(function* () {
      const { adapter, counters } = keywordAdapter()
      const seen = new Set<string>()
      let reused = 0
      const deduplicating: typeof adapter = {
        ...adapter,
        evaluate: (batch, candidate, options) =>
          Effect.map(Effect.suspend(() => adapter.evaluate(batch, candidate, options) as Effect.Effect<ReadonlyArray<ExampleEvaluation>>), (results) =>
            results.map((result, index) => {
              const key = `${batch[index]!.id}|${String(result.output)}`
              const again = seen.has(key)
              seen.add(key)
              if (again) reused += 1
              return again ? { ...result, reused: true } : result
            }),
          ),
      }
      const result = yield* optimizeWith(deduplicating, examples("t", ["alpha", "beta", "gamma", "delta"]), examples("v", ["alpha", "beta", "gamma"]))
      expect(reused).toBeGreaterThan(0)
      expect(result.evaluationsRun).toBe(counters.started - reused)
    }))
})
