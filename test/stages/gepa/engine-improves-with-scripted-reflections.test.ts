import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Progress } from "../../../src/services/Progress.ts"
import { makeMemoryStatePort, optimize } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { appendMissingWord, createStage, engineLayer, examples, keywordAdapter, reflectionModel } from "./support.ts"

const words = ["alpha", "beta", "gamma"]

describe("optimize with a deterministic adapter and scripted reflections", () => {
  it.effect("adds one keyword per accepted child and charges exactly the uncached evaluations", () => {
    const model = scriptedModel([appendMissingWord])
    const lines: Array<string> = []
    const { adapter, counters } = keywordAdapter()
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* createStage
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", words),
        valset: examples("v", words),
        state: port,
        reflectionModel,
        budget: { metricCalls: 100, iterations: 5 },
        runId: "run-1",
      })
      // seed: 3 val. Each of three accepted iterations: the parent's minibatch (uncached only for the seed,
      // later parents were scored on the same three ids as children) + the child's 3 + a 3-example validation.
      // Then the perfect candidate is skipped twice at no cost.
      expect(result.metricCalls).toBe(3 + (3 + 3 + 3) + (0 + 3 + 3) + (0 + 3 + 3))
      expect(counters.completed).toHaveLength(result.metricCalls)
      expect(new Set(counters.completed).size).toBe(result.metricCalls)
      expect(result.stopReason).toBe("iterations")
      expect(result.iterations).toBe(5)

      expect(result.candidates.map((c) => c.parents)).toEqual([[], [0], [1], [2]])
      expect(result.candidates.map((c) => c.mean)).toEqual([0, 1 / 3, 2 / 3, 1])
      expect(result.candidates.map((c) => c.metricCalls)).toEqual([0, 9, 15, 21])
      for (const child of result.candidates.slice(1)) {
        const parentWords = result.candidates[child.parents[0]!]!.components[0]![1].split(" ")
        const childWords = child.components[0]![1].split(" ")
        expect(childWords.slice(0, -1)).toEqual(parentWords)
        expect(words).toContain(childWords.at(-1))
      }
      expect(result.best.idx).toBe(3)
      expect(result.best.components).toEqual([["instruction", `solve ${result.best.components[0]![1].split(" ").slice(1).join(" ")}`]])

      const proposals = port.proposals()
      expect(proposals.map((p) => [p.kind, p.accepted, p.metricCalls])).toEqual([
        ["reflection", true, 12],
        ["reflection", true, 18],
        ["reflection", true, 24],
        ["skip", false, 24],
        ["skip", false, 24],
      ])
      expect(proposals[0]!.reflectionPrompt).toContain("solve")
      expect(proposals[0]!.reflectionPrompt).toContain("## Feedback\nmissing word:")
      expect(proposals[0]!.reflectionOutput).toContain("```text")
      expect(proposals[0]!.reason).toBe("minibatch sum 0 → 1")
      expect(model.doGenerateCalls).toHaveLength(3)
      expect(result.reflectionCostUsd).toBeCloseTo(3 * (100 * 1 + 50 * 2) / 1e6, 12)

      expect(lines[0]).toContain("seed scores 0.000 on 3 validation examples; metric calls 3/100")
      expect(lines.some((line) => line.includes("gepa iteration 1: accepted candidate 1 from parent 0 (minibatch sum 0 → 1, val mean 0.333)"))).toBe(true)
      expect(lines.some((line) => line.includes("gepa: candidate 1 accepted at iteration 1"))).toBe(true)
      expect(lines.some((line) => line.includes("gepa iteration 3:") && line.includes("best val mean 1.000 (candidate 3); metric calls 24/100"))).toBe(true)
      expect(lines.at(-1)).toContain("gepa finished after 5 iterations: the iteration budget is spent")
    }).pipe(Effect.provide(Progress.layerWith((line) => lines.push(line)).pipe(Layer.provideMerge(engineLayer(model)))))
  })

  it.effect("records a reply truncated twice (retry included) as a rejected proposal and charges only the parent", () => {
    const model = scriptedModel(["```\nsolve alpha beta and then", "```\nsolve alpha", (prompt) => appendMissingWord(prompt)])
    const { adapter } = keywordAdapter()
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", words),
        valset: examples("v", words),
        state: port,
        reflectionModel,
        budget: { iterations: 2 },
      })
      const [first, second] = port.proposals()
      expect(first).toMatchObject({ kind: "reflection", accepted: false, sumAfter: null, childIdx: null, metricCalls: 3 + 3 })
      expect(first!.reason).toContain("never closes")
      expect(first!.reflectionOutput).toMatch(/^```\nsolve alpha beta and then\n\n--- format retry \(.*\) ---\n\n```\nsolve alpha$/)
      expect(second).toMatchObject({ accepted: true, childIdx: 1 })
      expect(result.candidates).toHaveLength(2)
      expect(model.doGenerateCalls).toHaveLength(3)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("rejects a child whose minibatch sum is only equal", () => {
    const model = scriptedModel(["```\nsolve carefully\n```"])
    const { adapter } = keywordAdapter()
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", words),
        valset: examples("v", words),
        state: port,
        reflectionModel,
        budget: { iterations: 1 },
      })
      expect(port.proposals()[0]).toMatchObject({ accepted: false, sumBefore: 0, sumAfter: 0, reason: "minibatch sum 0 → 0, not strictly better" })
      expect(result.candidates).toHaveLength(1)
      expect(result.metricCalls).toBe(3 + 3 + 3)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("rejects a proposal that repeats the current text without evaluating it", () => {
    const model = scriptedModel(["Keep it as is:\n```\nsolve\n```"])
    const { adapter, counters } = keywordAdapter()
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* optimize({ adapter, seedCandidate: { instruction: "solve" }, trainset: examples("t", words), valset: examples("v", words), state: port, reflectionModel, budget: { iterations: 1 } })
      expect(port.proposals()[0]).toMatchObject({ accepted: false, sumAfter: null, reason: "no usable proposal (instruction: the proposal repeats the current text)" })
      expect(counters.started).toBe(3 + 3)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("with the current-best selector always reflects on the best candidate so far", () => {
    const model = scriptedModel([appendMissingWord])
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", ["k0", "k1", "k2", "k3", "k4"]),
        valset: examples("v", ["k0", "k1", "k2", "k3", "k4"]),
        state: port,
        reflectionModel,
        candidateSelector: "current-best",
        budget: { iterations: 6 },
      })
      let best = 0
      for (const proposal of port.proposals()) {
        expect(proposal.parents).toEqual([best])
        if (proposal.accepted) best = proposal.childIdx!
      }
      expect(best).toBeGreaterThan(2)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("uses the adapter's offline reflector for the offline model and labels everything offline", () => {
    const model = scriptedModel(["never used"])
    const { adapter } = keywordAdapter({
      offlineReflector: (candidate, dataset, names) => {
        const feedback = JSON.stringify(dataset[names[0]!])
        const missing = /missing word: (\w+)/.exec(feedback)?.[1] ?? "more"
        return { [names[0]!]: `${candidate[0]![1]} ${missing}` }
      },
    })
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", words),
        valset: examples("v", words),
        state: port,
        reflectionModel: "offline",
        budget: { iterations: 3 },
      })
      expect(model.doGenerateCalls).toHaveLength(0)
      expect(result.candidates.map((c) => c.offline)).toEqual([false, true, true, true])
      expect(port.proposals().every((p) => p.offline)).toBe(true)
      const reflections = yield* port.reflections(1)
      expect(reflections).toMatchObject([{ component: "instruction", prompt: "(offline reflector)", offline: true }])
      expect(result.best.mean).toBe(1)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("uses a custom proposer instead of the reflection call", () => {
    const model = scriptedModel(["never used"])
    const seen: Array<number> = []
    const { adapter } = keywordAdapter({
      proposeNewTexts: (candidate, _dataset, names, context) => {
        seen.push(context.iteration)
        return { [names[0]!]: `${candidate[0]![1]} ${words[context.iteration - 1]}` }
      },
    })
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: { instruction: "solve" },
        trainset: examples("t", words),
        valset: examples("v", words),
        reflectionModel,
        budget: { iterations: 3 },
      })
      expect(model.doGenerateCalls).toHaveLength(0)
      expect(seen).toEqual([1, 2, 3])
      expect(result.best.components).toEqual([["instruction", "solve alpha beta gamma"]])
    }).pipe(Effect.provide(engineLayer(model)))
  })
})
