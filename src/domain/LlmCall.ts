/** One model call as recorded in the ledger. */
import { Schema } from "effect"

export const LlmCall = Schema.Struct({
  id: Schema.Number,
  runId: Schema.NullOr(Schema.String),
  stageId: Schema.NullOr(Schema.Number),
  purpose: Schema.String,
  model: Schema.String,
  promptHash: Schema.String,
  templateHash: Schema.NullOr(Schema.String),
  promptText: Schema.String,
  responseText: Schema.NullOr(Schema.String),
  inputTokens: Schema.NullOr(Schema.Number),
  outputTokens: Schema.NullOr(Schema.Number),
  costUsd: Schema.NullOr(Schema.Number),
  latencyMs: Schema.Number,
  cached: Schema.Boolean,
  attempt: Schema.Number,
  error: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
})
export type LlmCall = typeof LlmCall.Type
