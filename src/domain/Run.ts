/** A pipeline run and its stages, as stored. */
import { Schema } from "effect"
import { Handoff } from "./Handoff.ts"

export const RunStatus = Schema.Literals(["running", "completed", "failed", "interrupted"])
export type RunStatus = typeof RunStatus.Type

export const StageStatus = Schema.Literals(["pending", "running", "completed", "failed", "interrupted"])
export type StageStatus = typeof StageStatus.Type

export const Run = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: RunStatus,
  configFile: Schema.String,
  configJson: Schema.String,
  configHash: Schema.String,
  arms: Schema.Array(Schema.String),
  targetDir: Schema.String,
  targetCommit: Schema.NullOr(Schema.String),
  targetDirty: Schema.Boolean,
  runDir: Schema.String,
  startedAt: Schema.String,
  endedAt: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
})
export type Run = typeof Run.Type

export const StageRecord = Schema.Struct({
  id: Schema.Number,
  runId: Schema.String,
  arm: Schema.String,
  position: Schema.Number,
  kind: Schema.String,
  name: Schema.String,
  status: StageStatus,
  /** The handoff the stage started from (written when it starts). */
  input: Schema.NullOr(Handoff),
  /** What it handed on (written when it completes). */
  handoff: Schema.NullOr(Handoff),
  /** The stage kind's own resume state. */
  state: Schema.NullOr(Schema.Unknown),
  /** The stage kind's outcome figures; decoded with the kind's summary schema (see StageKind). */
  summary: Schema.NullOr(Schema.Unknown),
  startedAt: Schema.NullOr(Schema.String),
  endedAt: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
})
export type StageRecord = typeof StageRecord.Type
