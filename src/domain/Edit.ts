/**
 * An edit proposed for the target's editable files: what the proposer was going for and the file changes.
 * The same schema decodes LLM structured output, stored edits (`edit_json` columns, handoffs), and offline proposals.
 */
import { Schema } from "effect"

export const FileChange = Schema.Union([
  Schema.Struct({
    path: Schema.String.annotate({ description: "file path relative to the target directory; must be an editable file" }),
    kind: Schema.Literal("replace"),
    search: Schema.String.annotate({ description: "exact text that occurs exactly once in the current file" }),
    replace: Schema.String.annotate({ description: "the text that replaces it" }),
  }),
  Schema.Struct({
    path: Schema.String.annotate({ description: "file path relative to the target directory; must be an editable file" }),
    kind: Schema.Literal("rewrite"),
    content: Schema.String.annotate({ description: "the complete new content of the file" }),
  }),
])
export type FileChange = typeof FileChange.Type

export const Edit = Schema.Struct({
  direction: Schema.String.annotate({ description: "the research direction this edit explores, in a few words" }),
  rationale: Schema.String.annotate({ description: "why this should improve the metric" }),
  description: Schema.String.annotate({ description: "a short label for the results log, e.g. 'LR 0.003 -> 0.01'" }),
  changes: Schema.Array(FileChange).annotate({ description: "the file changes; at least one" }),
})
export type Edit = typeof Edit.Type
