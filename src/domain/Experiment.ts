/**
 * One run of the target's command (a baseline, a candidate edit, a confirmation rerun, a proxy run for the
 * outer stage) and the judgement made on it.
 */
import { Schema } from "effect"
import { Edit } from "./Edit.ts"

export const ExperimentStatus = Schema.Literals(["planned", "running", "keep", "discard", "crash", "timeout", "rejected", "measured"])
export type ExperimentStatus = typeof ExperimentStatus.Type

/** Final statuses; `measured` is a run with a metric that is not judged on its own (baselines, proxy runs, confirm reruns). */
export const finalStatuses: ReadonlyArray<ExperimentStatus> = ["keep", "discard", "crash", "timeout", "rejected", "measured"]

export const ExperimentPurpose = Schema.Literals(["baseline", "candidate", "confirm", "rebase", "promote", "proxy"])
export type ExperimentPurpose = typeof ExperimentPurpose.Type

/** The numbers a keep/discard decision used, stored with the experiment. */
export const Judgement = Schema.Struct({
  verdict: Schema.Literals(["keep", "discard", "confirm"]),
  incumbent: Schema.Number,
  candidateMean: Schema.Number,
  runs: Schema.Number,
  improvement: Schema.Number,
  sigma: Schema.Number,
  gate: Schema.Number,
  minDelta: Schema.Number,
  noiseK: Schema.Number,
  reason: Schema.String,
})
export type Judgement = typeof Judgement.Type

export const EnvironmentFingerprint = Schema.Struct({
  host: Schema.String,
  cpu: Schema.String,
  cpus: Schema.Number,
  memoryGb: Schema.Number,
  os: Schema.String,
  node: Schema.String,
  python: Schema.NullOr(Schema.String),
  torch: Schema.NullOr(Schema.String),
  gpus: Schema.Array(Schema.Struct({ index: Schema.Number, name: Schema.String, driver: Schema.String, memoryMb: Schema.NullOr(Schema.Number) })),
})
export type EnvironmentFingerprint = typeof EnvironmentFingerprint.Type

export const Experiment = Schema.Struct({
  id: Schema.Number,
  stageId: Schema.Number,
  seq: Schema.Number,
  worker: Schema.Number,
  purpose: ExperimentPurpose,
  parentId: Schema.NullOr(Schema.Number),
  scenario: Schema.NullOr(Schema.String),
  status: ExperimentStatus,
  proposer: Schema.String,
  offline: Schema.Boolean,
  baseCommit: Schema.NullOr(Schema.String),
  resultCommit: Schema.NullOr(Schema.String),
  direction: Schema.NullOr(Schema.String),
  rationale: Schema.NullOr(Schema.String),
  description: Schema.NullOr(Schema.String),
  edit: Schema.NullOr(Edit),
  diff: Schema.NullOr(Schema.String),
  seed: Schema.Number,
  timeBudget: Schema.Number,
  metric: Schema.NullOr(Schema.Number),
  seconds: Schema.NullOr(Schema.Number),
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  peakMemoryMb: Schema.NullOr(Schema.Number),
  logPath: Schema.NullOr(Schema.String),
  logTail: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(Schema.String),
  judgement: Schema.NullOr(Judgement),
  env: Schema.NullOr(EnvironmentFingerprint),
  pid: Schema.NullOr(Schema.Number),
  host: Schema.NullOr(Schema.String),
  jobId: Schema.NullOr(Schema.String),
  attempt: Schema.Number,
  createdAt: Schema.String,
  startedAt: Schema.NullOr(Schema.String),
  endedAt: Schema.NullOr(Schema.String),
})
export type Experiment = typeof Experiment.Type
