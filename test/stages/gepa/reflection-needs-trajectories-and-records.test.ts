/**
 * As in the reference: an iteration whose parent evaluation left no trajectories is skipped (and charged),
 * and a component the reflective dataset has no records for gets no reflection call.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type GepaAdapter, makeMemoryStatePort, optimize } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { appendMissingWord, engineLayer, examples, type KeywordExample, keywordAdapter, reflectionModel } from "./support.ts"

describe("what a reflection needs", () => {
  it.effect("skips an iteration whose parent evaluation returned no trajectories, charging the parent's minibatch", () => {
    const model = scriptedModel([appendMissingWord])
    const traced = keywordAdapter().adapter
    const adapter: GepaAdapter<KeywordExample> = {
      ...traced,
      evaluate: (batch, candidate, options) =>
        Effect.map(traced.evaluate(batch, candidate, options) as Effect.Effect<ReadonlyArray<{ score: number; output: unknown }>>, (results) =>
          results.map(({ score, output }) => ({ score, output })),
        ),
    }
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", ["alpha", "beta", "gamma"]),
        valset: examples("v", ["alpha", "beta", "gamma"]),
        state: port,
        reflectionModel,
        budget: { iterations: 2 },
        cache: false,
      })
      expect(port.proposals().map((p) => [p.kind, p.reason, p.metricCalls])).toEqual([
        ["skip", "the adapter returned no trajectories for parent 0's minibatch", 3 + 3],
        ["skip", "the adapter returned no trajectories for parent 0's minibatch", 3 + 3 + 3],
      ])
      expect(model.doGenerateCalls).toHaveLength(0)
      expect(result.candidates).toHaveLength(1)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("asks the reflection model only about components with records", () => {
    const model = scriptedModel([appendMissingWord])
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: [
          ["instruction", "solve"],
          ["style", "plain"],
        ],
        // every example looks at `instruction`; `style` never gets a record
        trainset: examples("t", ["alpha", "beta", "gamma"]),
        valset: examples("v", ["alpha", "beta", "gamma"]),
        state: port,
        reflectionModel,
        componentSelector: "all",
        budget: { iterations: 2 },
      })
      expect(model.doGenerateCalls).toHaveLength(2)
      const [first] = port.proposals()
      expect(first).toMatchObject({ kind: "reflection", components: ["instruction", "style"], accepted: true })
      expect(first!.reason).toContain("kept the parent's text for style: the reflective dataset has no records for it (no reflection call)")
      const reflections = yield* port.reflections(1)
      expect(reflections.map((r) => r.component)).toEqual(["instruction"])
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("with round-robin on a component without records, proposes nothing and evaluates no child", () => {
    const model = scriptedModel([appendMissingWord])
    const { adapter, counters } = keywordAdapter()
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* optimize({
        adapter,
        seedCandidate: [
          ["style", "plain"],
          ["instruction", "solve"],
        ],
        trainset: examples("t", ["alpha", "beta", "gamma"]),
        valset: examples("v", ["alpha", "beta", "gamma"]),
        state: port,
        reflectionModel,
        budget: { iterations: 1 },
      })
      expect(model.doGenerateCalls).toHaveLength(0)
      expect(port.proposals()[0]).toMatchObject({
        kind: "reflection",
        components: ["style"],
        accepted: false,
        sumAfter: null,
        reason: "no usable proposal (style: the reflective dataset has no records for it (no reflection call))",
      })
      expect(counters.started).toBe(3 + 3)
    }).pipe(Effect.provide(engineLayer(model)))
  })
})
