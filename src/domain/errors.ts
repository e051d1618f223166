/**
 * The tagged errors that cross twoloop's boundaries. Each carries a `message` that reads well as the single
 * line a user sees in the terminal. Match on `_tag`, never `instanceof` (a config loaded through jiti may
 * hold a second copy of this module).
 */
import { Schema } from "effect"

/** The config file is missing, unreadable, or does not decode. `message` names the file and key path. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String,
}) {}

/** The store cannot be opened or migrated (not SQLite, newer schema, unwritable path). */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String,
}) {}

/**
 * A model call failed after the retry policy gave up (`http`, `network`, `timeout`), returned output that
 * does not decode (`malformed`, with the raw text), or was asked of the offline model (`offline`).
 */
export class LlmError extends Schema.TaggedError<LlmError>()("LlmError", {
  message: Schema.String,
  model: Schema.String,
  reason: Schema.Literals(["http", "network", "timeout", "malformed", "empty", "offline"]),
  retryable: Schema.Boolean,
  raw: Schema.optional(Schema.String),
}) {}

/** Git or filesystem work on an experiment workspace failed. */
export class WorkspaceError extends Schema.TaggedError<WorkspaceError>()("WorkspaceError", {
  message: Schema.String,
}) {}

/** A stage cannot go on (e.g. the baseline of the target does not run). */
export class StageFailed extends Schema.TaggedError<StageFailed>()("StageFailed", {
  message: Schema.String,
  stage: Schema.String,
}) {}

/** A run id that is not in the store, or a run held by another live process. */
export class RunError extends Schema.TaggedError<RunError>()("RunError", {
  message: Schema.String,
}) {}

/**
 * A defect, not a failure: SQLite found a damaged page of the store while twoloop was using it. The CLI
 * renders it as one line (the store was checked when opened for writing, so this is rare).
 */
export class StoreDamaged extends Error {
  readonly _tag = "StoreDamaged"
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`store ${file} is damaged (${detail}); restore it from a backup, or point "store" at a new file`)
  }
}

export type UserFacingError = ConfigError | StoreError | LlmError | WorkspaceError | StageFailed | RunError

const userFacingTags = new Set(["ConfigError", "StoreError", "LlmError", "WorkspaceError", "StageFailed", "RunError"])

export const isUserFacingError = (u: unknown): u is UserFacingError =>
  typeof u === "object" && u !== null && userFacingTags.has((u as { _tag?: unknown })._tag as string)
