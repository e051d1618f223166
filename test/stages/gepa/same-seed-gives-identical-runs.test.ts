import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeMemoryStatePort, optimize } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { appendMissingWord, engineLayer, examples, keywordAdapter, reflectionModel } from "./support.ts"

const keywords = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]

const run = (seed: number) => {
  const port = makeMemoryStatePort()
  return optimize({
    adapter: keywordAdapter({ beforeEvaluate: () => Effect.yieldNow }).adapter,
    seedCandidate: [
      ["first", "x"],
      ["second", "y"],
    ],
    trainset: [...examples("tf", keywords.slice(0, 5), "first"), ...examples("ts", keywords.slice(3), "second")],
    valset: [...examples("vf", keywords.slice(0, 5), "first"), ...examples("vs", keywords.slice(3), "second")],
    state: port,
    reflectionModel,
    budget: { metricCalls: 150 },
    merge: { enabled: true },
    concurrency: 3,
    seed,
  }).pipe(
    Effect.map((result) => ({ result, proposals: port.proposals() })),
    Effect.provide(engineLayer(scriptedModel([appendMissingWord]))),
  )
}

const shape = (outcome: Effect.Success<ReturnType<typeof run>>) => ({
  candidates: outcome.result.candidates,
  metricCalls: outcome.result.metricCalls,
  proposals: outcome.proposals,
})

describe("determinism", () => {
  it.effect("two runs with the same seed produce identical candidates, proposals and budgets", () =>
    Effect.gen(function* () {
      const first = yield* run(7)
      const second = yield* run(7)
      expect(first.result.candidates.length).toBeGreaterThan(2)
      expect(shape(second)).toEqual(shape(first))
    }))

  it.effect("a different seed draws different minibatches", () =>
    Effect.gen(function* () {
      const first = yield* run(7)
      const other = yield* run(8)
      expect(other.proposals.map((p) => p.minibatch)).not.toEqual(first.proposals.map((p) => p.minibatch))
    }))
})
