/** An evolved prompt saved to the cross-project library, with where it came from. */
import { Schema } from "effect"
import { Components } from "./Candidate.ts"

export const LibraryEntry = Schema.Struct({
  id: Schema.String,
  project: Schema.String,
  target: Schema.String,
  metric: Schema.String,
  direction: Schema.String,
  gain: Schema.NullOr(Schema.Number),
  runId: Schema.NullOr(Schema.String),
  lineage: Schema.Array(Schema.String),
  model: Schema.String,
  offline: Schema.Boolean,
  components: Components,
  source: Schema.String,
  createdAt: Schema.String,
})
export type LibraryEntry = typeof LibraryEntry.Type
