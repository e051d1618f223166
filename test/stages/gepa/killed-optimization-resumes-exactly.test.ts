import { describe, expect, it } from "@effect/vitest"
import type { LanguageModelV3CallOptions } from "@ai-sdk/provider"
import { MockLanguageModelV3 } from "ai/test"
import { Effect, Fiber } from "effect"
import { Store } from "../../../src/services/Store.ts"
import { candidateHash, type GepaStatePort, makeMemoryStatePort, makeSqliteStatePort, optimize, type OptimizeResult } from "../../../stages/gepa/index.ts"
import { textResult } from "../../support/mockModel.ts"
import { appendMissingWord, brevityExamples, createStage, engineLayer, examples, keywordAdapter, reflectionModel, storeFile } from "./support.ts"

const firstWords = ["a0", "a1", "a2", "a3"]
const secondWords = ["b0", "b1", "b2", "b3"]
const trainset = [...examples("tf", firstWords, "first"), ...examples("ts", secondWords, "second"), ...brevityExamples("tb", 1, 3, "first")]
const valset = [
  ...examples("vf", firstWords, "first"),
  ...examples("vs", secondWords, "second"),
  ...brevityExamples("vbf", 1, 3, "first"),
  ...brevityExamples("vbs", 1, 3, "second"),
]
const seedComponents = [["first", "x"], ["second", "y"]] as const
const seedHash = candidateHash(seedComponents)

interface KillPoint {
  /** Block the N-th adapter evaluation (1-based) and interrupt the run there. */
  readonly evaluation?: number
  /** Block the N-th reflection call and interrupt the run there. */
  readonly reflection?: number
}

const promptText = (options: LanguageModelV3CallOptions) =>
  options.prompt
    .flatMap((message) => (typeof message.content === "string" ? [message.content] : message.content.map((part) => ("text" in part ? part.text : ""))))
    .join("\n")

/** A reflection model replying as a function of the prompt; its N-th call hangs until aborted. */
const reflectionMock = (hangAt: number | undefined, reached: () => void, replies: { count: number }) => {
  let calls = 0
  return new MockLanguageModelV3({
    doGenerate: async (options) => {
      calls += 1
      if (calls === hangAt) {
        reached()
        await new Promise((_, reject) => options.abortSignal?.addEventListener("abort", () => reject(new Error("aborted"))))
      }
      replies.count += 1
      return textResult(appendMissingWord(promptText(options)))
    },
  })
}

/** One session on the store file; with a kill point it is interrupted there and returns no result. */
const session = (file: string, kill: KillPoint = {}, memory?: GepaStatePort) =>
  Effect.gen(function* () {
    let reached = false
    let signal!: () => void
    const reachedPromise = new Promise<void>((resolve) => (signal = resolve))
    const markReached = () => {
      reached = true
      signal()
    }
    const { adapter, counters } = keywordAdapter({
      beforeEvaluate: (call) => (call === kill.evaluation ? Effect.sync(markReached).pipe(Effect.andThen(Effect.never)) : Effect.void),
    })
    const replies = { count: 0 }
    const program = Effect.gen(function* () {
      const stageId = yield* createStage
      const state = memory ?? (yield* makeSqliteStatePort(stageId))
      return yield* optimize({
        adapter,
        seedCandidate: seedComponents,
        trainset,
        valset,
        state,
        reflectionModel,
        budget: { metricCalls: 150 },
        concurrency: 2,
        merge: { enabled: true },
        seed: 6,
      })
    }).pipe(Effect.provide(engineLayer(reflectionMock(kill.reflection, markReached, replies), file)))
    if (kill.evaluation === undefined && kill.reflection === undefined) return { result: yield* program, completed: counters.completed, replies: replies.count }
    const fiber = yield* Effect.forkChild(program)
    yield* Effect.race(Effect.promise(() => reachedPromise), Effect.asVoid(Fiber.await(fiber)))
    expect(reached).toBe(true)
    yield* Fiber.interrupt(fiber)
    return { result: undefined, completed: counters.completed, replies: replies.count }
  })

/** What is in the store file: proposals and the evaluation keys (`hash|example id`). */
const stored = (file: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const stageId = yield* createStage
    const proposals = yield* store.outer.listProposals(stageId)
    const evaluations = yield* store.outer.listEvaluations(stageId)
    return { proposals, keys: new Set(evaluations.map((e) => `${e.candidateHash}|${e.exampleId}`)) }
  }).pipe(Effect.provide(Store.layer(file)))

const comparable = (result: OptimizeResult) => ({
  candidates: result.candidates,
  metricCalls: result.metricCalls,
  reflectionCostUsd: result.reflectionCostUsd,
  iterations: result.iterations,
  stopReason: result.stopReason,
  best: result.best.idx,
})

describe("kill and resume on a real SQLite store", () => {
  it.live("ends with the same candidates, proposals and metric calls as an uninterrupted run, wherever it is killed", () =>
    Effect.gen(function* () {
      const referenceFile = storeFile()
      const referenceSession = yield* session(referenceFile)
      const reference = referenceSession.result!
      const referenceProposals = (yield* stored(referenceFile)).proposals
      expect(reference.candidates.length).toBeGreaterThan(3)
      expect(reference.candidates.filter((c) => c.origin === "merge").length).toBeGreaterThan(1)
      expect(referenceProposals.some((p) => p.kind === "skip" || !p.accepted)).toBe(true)
      expect(reference.stopReason).toBe("metric-calls")
      const reflections = referenceProposals.filter((p) => p.kind === "reflection" && p.reflectionPrompt !== null).length
      expect(reflections).toBeGreaterThan(3)

      const total = reference.metricCalls
      const evaluationKills = [1, 3, 9, 10, 11, 13, 16, 22, 29, 37, 46, 58, 71, 85, 97, 104, 118, 131, total - 4, total - 1]
      const plans: Array<ReadonlyArray<KillPoint>> = [
        ...evaluationKills.map((evaluation) => [{ evaluation }]),
        [{ reflection: 1 }],
        [{ reflection: 2 }],
        [{ reflection: reflections }],
        [{ evaluation: 11 }, { reflection: 2 }, { evaluation: 5 }],
      ]
      for (const plan of plans) {
        const file = storeFile()
        const keysBefore = new Set<string>()
        let replies = 0
        for (const kill of plan) {
          replies += (yield* session(file, kill)).replies
          for (const key of (yield* stored(file)).keys) keysBefore.add(key)
        }
        const resumed = yield* session(file)
        const label = JSON.stringify(plan)
        expect(comparable(resumed.result!), label).toEqual(comparable(reference))
        expect((yield* stored(file)).proposals, label).toEqual(referenceProposals)
        // nothing stored before the last kill is evaluated again, the seed included
        expect(resumed.completed.filter((key) => keysBefore.has(key)), label).toEqual([])
        expect(keysBefore.size + resumed.completed.length, label).toBe(total)
        // reflection replies that arrived before a kill are reused, not asked for again
        expect(replies + resumed.replies, label).toBe(referenceSession.replies)
        const seedKeys = valset.map((example) => `${seedHash}|${example.id}`)
        expect(seedKeys.filter((key) => keysBefore.has(key) || resumed.completed.includes(key)), label).toEqual(seedKeys)
        expect(resumed.completed.filter((key) => key.startsWith(seedHash) && key.includes("|v")).length + seedKeys.filter((key) => keysBefore.has(key)).length, label).toBe(
          seedKeys.length,
        )
      }
    }))

  it.live("resumes an in-memory state port handed to a second optimize call", () =>
    Effect.gen(function* () {
      const reference = (yield* session(storeFile(), {}, makeMemoryStatePort())).result!
      for (const evaluation of [5, 30, 77]) {
        const port = makeMemoryStatePort()
        const file = storeFile()
        yield* session(file, { evaluation }, port)
        const resumed = (yield* session(file, {}, port)).result!
        expect(comparable(resumed), `killed at ${evaluation}`).toEqual(comparable(reference))
      }
    }))
})
