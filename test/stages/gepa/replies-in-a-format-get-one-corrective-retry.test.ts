/**
 * `askInFormat`, the corrective retry behind the seed directions: a reply that is not a ranked list (prose,
 * empty, refused as too long) is answered once more with the problem and the format stated; a failure that is
 * not about the reply still fails. Real Llm service and SQLite ledger over an AI SDK mock model.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadTemplateSync, type PromptTemplate } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import { parseDirections } from "../../../stages/gepa/research/directions.ts"
import { askInFormat, type Judged } from "../../../stages/gepa/replyFormat.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { engineLayer, reflectionModel } from "./support.ts"

const correction = loadTemplateSync("reply-correction") as PromptTemplate
const listOnly = (text: string): Judged<string> => (parseDirections(text, []).length > 0 ? { ok: true, value: text } : { ok: false, problem: "It has no list item." })
const ask = askInFormat({
  request: { purpose: "test.list", model: reflectionModel, prompt: "List three ideas.", templateHash: "main-template" },
  judge: listOnly,
  correction,
  format: "Reply with a numbered list only.",
})
const ledger = Effect.gen(function* () {
  const store = yield* Store
  return yield* store.use((db) => db.prepare("SELECT template_hash, error, prompt_text FROM llm_calls ORDER BY id").all() as Array<{ template_hash: string; error: string | null; prompt_text: string }>)
})

describe("askInFormat", () => {
  it.effect("takes a reply that follows the format at once", () => {
    const model = scriptedModel(["1. wider\n2. deeper"])
    return Effect.gen(function* () {
      const reply = yield* ask
      expect(reply).toMatchObject({ value: "1. wider\n2. deeper", problems: [] })
      expect(model.doGenerateCalls).toHaveLength(1)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("answers prose once with the problem and the format, and takes the retry's list", () => {
    const model = scriptedModel(["I would try a wider model, then a deeper one.", "1. wider\n2. deeper"])
    return Effect.gen(function* () {
      const reply = yield* ask
      expect(reply).toMatchObject({ value: "1. wider\n2. deeper", problems: ["It has no list item."] })
      const rows = yield* ledger
      expect(rows.map((row) => row.template_hash)).toEqual(["main-template", correction.hash])
      expect(rows[1]!.prompt_text).toBe("List three ideas.\n\n# Your previous reply could not be used\n\nIt has no list item.\n\nReply with a numbered list only.\n")
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("gives up after the retry, with both problems", () => {
    const model = scriptedModel(["", "x".repeat(300 * 1024)])
    return Effect.gen(function* () {
      const reply = yield* ask
      expect(reply).toMatchObject({ value: undefined, problems: ["It was empty.", "It was far too long (over the reply size limit)."] })
      const rows = yield* ledger
      expect(rows.map((row) => row.error?.replace(/\d+ bytes/, "N bytes"))).toEqual([
        "empty reply",
        `${reflectionModel} returned a reply of N bytes, over llm.maxReplyBytes (262144); refused, only its first 4096 bytes are kept`,
      ])
      expect(model.doGenerateCalls).toHaveLength(2)
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("fails on an error that is not about the reply", () => {
    const model = scriptedModel([])
    model.doGenerate = async () => {
      throw new Error("socket hang up")
    }
    return Effect.gen(function* () {
      const error = yield* Effect.flip(ask)
      expect(error).toMatchObject({ _tag: "LlmError", reason: "network" })
    }).pipe(Effect.provide(engineLayer(model)))
  })
})
