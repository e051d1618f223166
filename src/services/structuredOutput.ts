/**
 * Structured outputs as providers receive them. OpenAI's strict mode (the `openai:` provider's default, and
 * what `openai-compatible:` sends when `structuredOutputs` is on) accepts a subset of JSON Schema: every
 * object closed (`additionalProperties: false`) with all its properties required, optional fields as
 * nullable ones, a short list of keywords, an object at the root. This module is the one place a domain
 * schema becomes that, through Effect's OpenAI structured-output transform: it renders the JSON Schema sent
 * to every provider, and a codec that reads a reply back (a null for an optional field becomes absent; a
 * constraint the subset cannot express is still checked) into the domain type.
 *
 * Contract: pure and memoised per schema. A schema whose root is not an object cannot be sent and throws
 * (a defect in the calling code, not a model failure).
 */
import { Cause, Exit, type JsonSchema, Schema } from "effect"
import { toCodecOpenAI } from "effect/ai/OpenAiStructuredOutput"

export interface StructuredOutput<A> {
  /** The JSON Schema sent to the provider, valid under OpenAI's strict rules. */
  readonly jsonSchema: JsonSchema.JsonSchema
  /** Decodes a parsed reply into the domain type; the failure reads as a one-paragraph reason. */
  readonly decode: (reply: unknown) => { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }
}

const memo = new WeakMap<object, StructuredOutput<unknown>>()

export const structuredOutputOf = <A>(schema: Schema.Codec<A, any>): StructuredOutput<A> => {
  const known = memo.get(schema)
  if (known) return known as StructuredOutput<A>
  const { codec, jsonSchema } = toCodecOpenAI(schema)
  const decodeExit = Schema.decodeUnknownExit(codec)
  const output: StructuredOutput<A> = {
    jsonSchema,
    decode: (reply) => {
      const exit = decodeExit(reply)
      return Exit.isSuccess(exit) ? { ok: true, value: exit.value as A } : { ok: false, reason: Cause.pretty(exit.cause) }
    },
  }
  memo.set(schema, output as StructuredOutput<unknown>)
  return output
}
