/** The `code-search` stage's outcome summary: the inner role's figures plus this kind's own. */
import { Schema } from "effect"
import { InnerSummary } from "../../src/domain/StageSummary.ts"

export const CodeSearchSummary = Schema.Struct({
  ...InnerSummary.fields,
  bestExperimentId: Schema.NullOr(Schema.Number),
  experiments: Schema.Number,
  kept: Schema.Number,
  discarded: Schema.Number,
  crashed: Schema.Number,
  timedOut: Schema.Number,
  rejected: Schema.Number,
  /** Process seconds over wall seconds × workers. */
  dutyCycle: Schema.NullOr(Schema.Number),
  /** Proposals re-run on top of an incumbent that moved while they ran. */
  proposalsRebased: Schema.Number,
  /** Where the instructions came from: "handoff", "option" or a file. */
  instructionsSource: Schema.String,
  /** Directions handed over by the outer stage. */
  directions: Schema.Number,
  resultsFile: Schema.String,
  /** The repository holding the branches. */
  repo: Schema.String,
})
export type CodeSearchSummary = typeof CodeSearchSummary.Type
