/**
 * The checkpoint written at every iteration boundary: everything besides the candidate pool and the
 * evaluation cache that the next iteration depends on. Restoring it and replaying the next iteration
 * reproduces the same decisions.
 */
import { Schema } from "effect"

export const Checkpoint = Schema.Struct({
  version: Schema.Literal(1),
  /** The next iteration to run (the seed evaluation is iteration 0). */
  iteration: Schema.Number,
  rng: Schema.Tuple([Schema.Number, Schema.Number, Schema.Number, Schema.Number]),
  sampler: Schema.Struct({
    epoch: Schema.Number,
    order: Schema.Array(Schema.String),
    datasetSize: Schema.Number,
    /** Padding counts kept across epochs by earlier versions; read and ignored (counts restart each epoch). */
    frequency: Schema.optional(Schema.Record(Schema.String, Schema.Number)),
  }),
  /** Round-robin pointer per candidate index. */
  pointers: Schema.Array(Schema.Number),
  /** How many candidates the pool holds at this boundary. */
  candidateCount: Schema.Number,
  /** The budgeted count (as the run's accounting counts). */
  metricCalls: Schema.Number,
  /** Evaluations run, and the reference-equivalent metric calls (absent in checkpoints of earlier versions). */
  evaluationsRun: Schema.optional(Schema.Number),
  referenceMetricCalls: Schema.optional(Schema.Number),
  reflectionCostUsd: Schema.Number,
  elapsedSeconds: Schema.Number,
  merge: Schema.Struct({
    due: Schema.Number,
    performed: Schema.Number,
    tried: Schema.Array(Schema.String),
    lastIterationAccepted: Schema.Boolean,
  }),
  patience: Schema.Struct({
    bestMean: Schema.Number,
    iterationsWithoutImprovement: Schema.Number,
    /** Iterations in a row that charged no metric call. */
    idleIterations: Schema.Number,
  }),
})
export type Checkpoint = typeof Checkpoint.Type

export const decodeCheckpoint = Schema.decodeUnknownSync(Checkpoint)
