/**
 * The Stage contract and the stage-kind registry. A stage kind (in `stages/`) declares its options schema
 * and a `run` Effect; it registers itself with `registerStageKind` when its module is imported. The
 * registry lives on globalThis so that a config loaded through jiti (which may hold a second copy of this
 * module) registers into the same table the pipeline reads.
 *
 * Contract for `run`: it receives the previous stage's handoff and returns its own; it must be resumable —
 * when `context.resuming` is true it continues from what it recorded in the store instead of starting over.
 * It stops early (returning what it has) when `context.shouldStop` turns true.
 */
import { Effect, Exit, Schema } from "effect"
import type { ResolvedConfig, StageEntryDecoder } from "../config.ts"
import type { LlmError, StageFailed, WorkspaceError } from "../domain/errors.ts"
import type { Handoff } from "../domain/Handoff.ts"
import type { StageRecord } from "../domain/Run.ts"
import { strictParseOptions, summarizeIssue } from "../common/schemaIssues.ts"
import type { Llm } from "../services/Llm.ts"
import type { Progress } from "../services/Progress.ts"
import type { Prompts } from "../services/Prompts.ts"
import type { Library, Store } from "../services/Store.ts"
import type { StageExtraServices } from "./stageServices.ts"

export interface StageContext<Options> {
  readonly runId: string
  readonly stage: StageRecord
  /** Unique within the run across arms: use it for branch and directory names. */
  readonly slug: string
  readonly options: Options
  readonly config: ResolvedConfig
  /** The handoff of the previous stage in this arm ({} for the first stage). */
  readonly input: Handoff
  /** The run's directory (worktrees, logs, reports). */
  readonly runDir: string
  /** A directory private to this stage inside the run directory. */
  readonly stageDir: string
  /** True when this stage already started in an earlier process (crash, interrupt) and is being resumed. */
  readonly resuming: boolean
  /** True once the user asked the run to stop (SIGINT/SIGTERM or the stop file). */
  readonly shouldStop: Effect.Effect<boolean>
}

export interface StageOutcome {
  readonly handoff: Handoff
  /** Figures for status and reports (JSON-serialisable). */
  readonly summary: Record<string, unknown>
  /** True when the stage ended early because a stop was requested. */
  readonly stopped?: boolean
}

export type StageServices = Store | Library | Llm | Prompts | Progress | StageExtraServices

export type StageRunError = StageFailed | LlmError | WorkspaceError

export interface StageKind<Fields extends Schema.Struct.Fields = Schema.Struct.Fields> {
  readonly kind: string
  readonly description: string
  /**
   * `outer` stages shape what the inner stages search (instructions, directions); `inner` stages change the
   * target's code. The `inner-only` arm runs only the inner stages.
   */
  readonly role: "outer" | "inner"
  /** Schema of the entry's options (every key except `kind` and `name`); unknown keys are rejected. */
  readonly options: Schema.Struct<Fields>
  readonly run: (context: StageContext<Schema.Struct<Fields>["Type"]>) => Effect.Effect<StageOutcome, StageRunError, StageServices>
}

const registryKey = Symbol.for("twoloop.stageKinds")

const registry = (): Map<string, StageKind<any>> => {
  const global = globalThis as { [registryKey]?: Map<string, StageKind<any>> }
  return (global[registryKey] ??= new Map())
}

/** Makes a stage kind available to configs; registering the same kind name again replaces it. */
export const registerStageKind = <Fields extends Schema.Struct.Fields>(kind: StageKind<Fields>): StageKind<Fields> => {
  registry().set(kind.kind, kind)
  return kind
}

export const getStageKind = (kind: string): StageKind<any> | undefined => registry().get(kind)

export const stageKindNames = (): Array<string> => [...registry().keys()].sort()

/** Decodes stage entries against the registered kinds (used by the config loader). */
export const registryDecoder: StageEntryDecoder = {
  kinds: stageKindNames,
  decode: (kind, options, at) => {
    const stageKind = getStageKind(kind)
    if (!stageKind) return { ok: false, message: `${at}.kind: unknown stage kind ${JSON.stringify(kind)}` }
    const exit = Schema.decodeUnknownExit(stageKind.options as unknown as Schema.Codec<unknown, unknown>, strictParseOptions)(options)
    if (Exit.isSuccess(exit)) return { ok: true, value: exit.value }
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    const issue = failure && "error" in failure ? (failure.error as Schema.SchemaError).issue : undefined
    return { ok: false, message: issue ? summarizeIssue(issue, [at]) : `${at}: invalid options` }
  },
}
