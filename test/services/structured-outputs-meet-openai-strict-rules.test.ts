/**
 * Every schema twoloop sends as a structured output must be accepted by OpenAI in strict mode (the default
 * of the `openai:` provider), checked with the same rule function the test server enforces.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Edit } from "../../src/domain/Edit.ts"
import { Llm, type LlmSettings } from "../../src/services/Llm.ts"
import { Store } from "../../src/services/Store.ts"
import { structuredOutputOf } from "../../src/services/structuredOutput.ts"
import { scriptedModel } from "../support/mockModel.ts"
import { strictSchemaViolations } from "../support/openaiStrictSchema.ts"
import { tempDir } from "../support/tmp.ts"

const root = path.resolve(import.meta.dirname, "../..")

/** The schemas passed to `generateObject` anywhere in src/ and stages/, by the identifier the call site uses. */
const structuredSchemas = {
  Edit: {
    schema: Edit,
    reply: { direction: "lr", rationale: "faster", description: "LR x2", changes: [{ path: "train.mjs", kind: "replace", search: "a", replace: "b" }] },
  },
} as const

const settings: LlmSettings = { timeoutSeconds: 5, retries: 0, cache: false, temperature: undefined, structuredOutputs: true, prices: {}, env: {} }

const llmWith = (model: ReturnType<typeof scriptedModel>, overrides: Partial<LlmSettings> = {}) =>
  Llm.layerWith({ ...settings, ...overrides }, () => model).pipe(Layer.provideMerge(Store.layer(path.join(tempDir(), "store.db"))))

const sourceFiles = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.join(entry.parentPath, entry.name))

describe("the strict-rule checker", () => {
  it("refuses what OpenAI refuses, naming the place like the API does", () => {
    expect(strictSchemaViolations({ type: "object", properties: { a: { type: "string" } }, required: ["a"] })).toEqual([
      "In context=(), 'additionalProperties' is required to be supplied and to be false.",
    ])
    expect(strictSchemaViolations({ type: "object", properties: { a: { type: "string" }, b: { type: "number" } }, required: ["a"], additionalProperties: false })).toEqual([
      "In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'.",
    ])
    expect(
      strictSchemaViolations({
        type: "object",
        properties: { list: { type: "array", items: { type: "object", properties: { x: { type: "string", minLength: 1 } }, required: ["x"], additionalProperties: true } } },
        required: ["list"],
        additionalProperties: false,
      }),
    ).toEqual([
      "In context=('properties', 'list', 'items'), 'additionalProperties' is required to be supplied and to be false.",
      "In context=('properties', 'list', 'items', 'properties', 'x'), 'minLength' is not permitted.",
    ])
    expect(strictSchemaViolations({ anyOf: [{ type: "object", properties: {}, required: [], additionalProperties: false }] })[0]).toMatch(/^schema must be a JSON Schema of 'type: "object"'/)
    expect(strictSchemaViolations({ type: "object", properties: { a: {} }, required: ["a"], additionalProperties: false })).toEqual(["In context=('properties', 'a'), schema must have a 'type' key."])
    expect(strictSchemaViolations({ type: "object", properties: { a: { $ref: "#/$defs/A" } }, required: ["a"], additionalProperties: false })).toEqual([
      "In context=('properties', 'a'), reference '#/$defs/A' cannot be resolved.",
    ])
    expect(strictSchemaViolations({ type: "object", properties: { m: { type: "object", additionalProperties: { type: "number" } } }, required: ["m"], additionalProperties: false })).toEqual([
      "In context=('properties', 'm'), 'additionalProperties' is required to be supplied and to be false.",
      "In context=('properties', 'm'), 'required' is required to be supplied and to be an array including every key in properties.",
    ])
  })

  it("accepts a schema written to the strict rules: nullable fields, anyOf branches, definitions, supported constraints", () => {
    expect(
      strictSchemaViolations({
        type: "object",
        properties: {
          name: { type: "string", pattern: "^[a-z]+$", description: "a name" },
          note: { type: ["string", "null"] },
          size: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] },
          tags: { type: "array", items: { type: "string", enum: ["a", "b"] }, minItems: 1 },
          node: { $ref: "#/$defs/Node" },
        },
        required: ["name", "note", "size", "tags", "node"],
        additionalProperties: false,
        $defs: { Node: { type: "object", properties: { kind: { const: "leaf" } }, required: ["kind"], additionalProperties: false } },
      }),
    ).toEqual([])
  })
})

describe("structured outputs twoloop sends", () => {
  it("every generateObject call site in src/ and stages/ passes a schema this test checks", () => {
    const calls = [...sourceFiles(path.join(root, "src")), ...sourceFiles(path.join(root, "stages"))].flatMap((file) => {
      const text = fs.readFileSync(file, "utf8")
      return [...text.matchAll(/\.generateObject\(/g)].map((match) => ({
        file: path.relative(root, file),
        schema: /\bschema:\s*([A-Za-z_$][\w$.]*)/.exec(text.slice(match.index, match.index + 800))?.[1] ?? "(not found)",
      }))
    })
    expect(calls.length).toBeGreaterThan(0)
    for (const call of calls) expect(Object.keys(structuredSchemas), `${call.file} passes ${call.schema}`).toContain(call.schema)
  })

  for (const [name, { schema, reply }] of Object.entries(structuredSchemas))
    it.effect(`${name}: the schema the Llm service sends is the strict transform's and meets OpenAI's strict rules`, () => {
      const model = scriptedModel([JSON.stringify(reply)])
      return Effect.gen(function* () {
        const llm = yield* Llm
        const result = yield* llm.generateObject({ purpose: "test", model: "openai:mock", prompt: "propose", schema, schemaName: name.toLowerCase() })
        expect(result.value).toEqual(reply)
        const sent = (model.doGenerateCalls[0]!.responseFormat as { schema?: unknown }).schema
        expect(sent).toEqual(structuredOutputOf(schema).jsonSchema)
        expect(strictSchemaViolations(sent)).toEqual([])
      }).pipe(Effect.provide(llmWith(model)))
    })

  it.effect("an optional field is sent as required and nullable, and a null reply for it decodes as absent (cached too)", () => {
    const Answer = Schema.Struct({ answer: Schema.String, note: Schema.optionalKey(Schema.String), tries: Schema.optional(Schema.Int) })
    const model = scriptedModel([JSON.stringify({ answer: "42", note: null, tries: null })])
    return Effect.gen(function* () {
      const llm = yield* Llm
      const first = yield* llm.generateObject({ purpose: "test", model: "openai:mock", prompt: "six times seven?", schema: Answer })
      expect(first.value).toStrictEqual({ answer: "42" })
      const sent = (model.doGenerateCalls[0]!.responseFormat as { schema: { required: Array<string>; properties: Record<string, unknown> } }).schema
      expect(sent.required).toEqual(["answer", "note", "tries"])
      expect(sent.properties.note).toEqual({ anyOf: [{ type: "string" }, { type: "null" }] })
      expect(strictSchemaViolations(sent)).toEqual([])
      const again = yield* llm.generateObject({ purpose: "test", model: "openai:mock", prompt: "six times seven?", schema: Answer })
      expect(again.cached).toBe(true)
      expect(again.value).toStrictEqual({ answer: "42" })
      expect(model.doGenerateCalls).toHaveLength(1)
    }).pipe(Effect.provide(llmWith(model, { cache: true })))
  })
})
