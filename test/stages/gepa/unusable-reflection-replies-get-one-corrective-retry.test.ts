/**
 * A reflection reply with no usable instruction (empty, only a fence, cut off inside a ``` block, refused as
 * too long) gets one corrective retry that states the problem; when the retry fails too, the component keeps
 * the parent's text, a warning is recorded and the run goes on. Every attempt is in the ledger, and each is
 * stored as it arrives, so a resumed iteration reuses what was already answered. Real SQLite, the real Llm
 * service over an AI SDK mock model.
 */
import { describe, expect, it } from "@effect/vitest"
import type { LanguageModelV3CallOptions } from "@ai-sdk/provider"
import { MockLanguageModelV3 } from "ai/test"
import { Effect, Fiber, Layer } from "effect"
import { Progress } from "../../../src/services/Progress.ts"
import { hashTemplate, loadTemplateSync } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import { makeSqliteStatePort, optimize } from "../../../stages/gepa/index.ts"
import { textResult } from "../../support/mockModel.ts"
import { appendMissingWord, createStage, engineLayer, examples, keywordAdapter, reflectionModel, storeFile } from "./support.ts"

const words = ["alpha", "beta", "gamma"]

const promptText = (options: LanguageModelV3CallOptions) =>
  options.prompt
    .flatMap((message) => (typeof message.content === "string" ? [message.content] : message.content.map((part) => ("text" in part ? part.text : ""))))
    .join("\n")

/** A model answering call k with `replies[k]` (a function sees the prompt); "hang" waits until aborted. */
const model = (replies: ReadonlyArray<string | "hang" | ((prompt: string) => string)>) => {
  const prompts: Array<string> = []
  const mock = new MockLanguageModelV3({
    doGenerate: async (options) => {
      const prompt = promptText(options)
      prompts.push(prompt)
      const reply = replies[Math.min(prompts.length - 1, replies.length - 1)]!
      if (reply === "hang") await new Promise((_, reject) => options.abortSignal?.addEventListener("abort", () => reject(new Error("aborted"))))
      return textResult(typeof reply === "function" ? reply(prompt) : reply)
    },
  })
  return { mock, prompts }
}

const run = (replies: Parameters<typeof model>[0], iterations: number, file = storeFile()) => {
  const { mock, prompts } = model(replies)
  const lines: Array<string> = []
  const effect = Effect.gen(function* () {
    const stageId = yield* createStage
    const result = yield* optimize({
      adapter: keywordAdapter().adapter,
      seedCandidate: { instruction: "solve" },
      trainset: examples("t", words),
      valset: examples("v", words),
      state: yield* makeSqliteStatePort(stageId),
      reflectionModel,
      budget: { iterations },
      runId: "run-1",
      stageId,
    })
    const store = yield* Store
    const proposals = yield* store.outer.listProposals(stageId)
    const calls = yield* store.use((db) => db.prepare("SELECT purpose, template_hash, error, prompt_text FROM llm_calls ORDER BY id").all() as Array<Record<string, string | null>>)
    const reflections = yield* store.use((db) => db.prepare("SELECT iteration, component, output FROM reflections ORDER BY iteration, component").all() as Array<Record<string, unknown>>)
    const events = yield* store.use((db) => db.prepare("SELECT kind, message FROM events WHERE kind = 'llm-reply-fallback'").all() as Array<{ kind: string; message: string }>)
    return { result, proposals, calls, reflections, events }
  }).pipe(Effect.provide(Progress.layerWith((line) => lines.push(line)).pipe(Layer.provideMerge(engineLayer(mock, file)))))
  return { effect, prompts, lines }
}

const reflectionHash = hashTemplate((loadTemplateSync("gepa-reflection") as { text: string }).text)
const correctionHash = hashTemplate((loadTemplateSync("reply-correction") as { text: string }).text)

describe("unusable reflection replies", () => {
  it.effect("retries a reply cut off inside its ``` block once, stating the problem, and uses the retry", () => {
    const { effect, prompts } = run(["Here you go:\n```\nsolve alpha and then", appendMissingWord], 1)
    return Effect.gen(function* () {
      const { result, proposals, calls, reflections, events } = yield* effect
      expect(prompts).toHaveLength(2)
      expect(prompts[1]!.startsWith(prompts[0]!)).toBe(true)
      expect(prompts[1]).toContain("# Your previous reply could not be used\n\nIt opens a ``` block it never closes, so it looks cut off.")
      expect(prompts[1]).toContain("Reply with the complete new instructions inside a single ``` block.")
      expect(calls.map((c) => [c.purpose, c.template_hash, c.error])).toEqual([
        ["gepa.reflection", reflectionHash, null],
        ["gepa.reflection", correctionHash, null],
      ])
      expect(reflections.map((r) => r.component)).toEqual(["instruction", "instruction (format retry)"])
      expect(proposals[0]).toMatchObject({ kind: "reflection", accepted: true, childIdx: 1 })
      expect(proposals[0]!.reflectionOutput).toContain("--- format retry (it opens a ``` block it never closes, so it looks cut off) ---")
      expect(result.candidates).toHaveLength(2)
      expect(events).toEqual([])
    })
  })

  it.effect("after two unusable replies keeps the parent's text, warns, and goes on", () => {
    const { effect, prompts, lines } = run(["", " \n```\n ", appendMissingWord], 2)
    return Effect.gen(function* () {
      const { result, proposals, calls, events } = yield* effect
      expect(prompts).toHaveLength(3)
      expect(prompts[1]).toContain("It was empty.")
      // an empty reply is recorded as such; the fence-only reply is answered, then judged unusable
      expect(calls.map((c) => c.error)).toEqual(["empty reply", null, null])
      expect(proposals[0]).toMatchObject({ kind: "reflection", accepted: false, sumAfter: null, childIdx: null })
      expect(proposals[0]!.reason).toBe(
        "no usable proposal (instruction: the reflection reply was unusable twice (it was empty; then it holds no instructions: it was empty, or only a ``` fence); kept the parent's text)",
      )
      expect(events).toHaveLength(1)
      expect(events[0]!.message).toBe(
        "gepa iteration 1: the reflection reply for instruction was unusable twice (it was empty; then it holds no instructions: it was empty, or only a ``` fence); keeping the parent's text",
      )
      expect(lines.some((line) => line.endsWith(events[0]!.message))).toBe(true)
      // the next iteration reflects normally
      expect(proposals[1]).toMatchObject({ accepted: true, childIdx: 1 })
      expect(result.iterations).toBe(2)
    })
  })

  it.live("resumes an iteration killed during the retry without asking the first reply again", () =>
    Effect.gen(function* () {
      const file = storeFile()
      const killed = run(["```\nsolve alpha and then", "hang"], 1, file)
      const fiber = yield* Effect.forkChild(killed.effect)
      for (let waited = 0; killed.prompts.length < 2 && waited < 200; waited++) yield* Effect.sleep("25 millis")
      expect(killed.prompts).toHaveLength(2)
      yield* Fiber.interrupt(fiber)

      const resumed = run([appendMissingWord], 1, file)
      const { proposals, reflections, calls } = yield* resumed.effect
      expect(resumed.prompts).toHaveLength(1)
      expect(resumed.prompts[0]).toContain("# Your previous reply could not be used")
      expect(reflections.map((r) => r.component)).toEqual(["instruction", "instruction (format retry)"])
      expect(calls.filter((c) => c.error === null)).toHaveLength(2)
      expect(proposals).toHaveLength(1)
      expect(proposals[0]).toMatchObject({ accepted: true, childIdx: 1 })
    }))
})
