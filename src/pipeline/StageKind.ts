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
import { InnerSummary as InnerSummaryCodec, type InnerSummary, OuterSummary as OuterSummaryCodec, type OuterSummary, type StageRole } from "../domain/StageSummary.ts"
import { formatIssueLine, issueLines, strictParseOptions } from "../common/schemaIssues.ts"
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

export interface StageOutcome<Summary = unknown> {
  readonly handoff: Handoff
  /** Figures for status and reports, of the kind's `summary` schema. */
  readonly summary: Summary
  /** True when the stage ended early because a stop was requested. */
  readonly stopped?: boolean
}

export type StageServices = Store | Library | Llm | Prompts | Progress | StageExtraServices

export type StageRunError = StageFailed | LlmError | WorkspaceError

/** What a stage kind can tell about a config before a run starts. */
export interface PreflightFinding {
  /** `error` refuses the run before anything is created; `warning` and `note` are shown and recorded with the run. */
  readonly level: "error" | "warning" | "note"
  /** One line. An error names the key path it is about: `stages[1].budget.experiments: ...`, `target.editable: ...`. */
  readonly message: string
}

export interface PreflightContext<Options> {
  readonly config: ResolvedConfig
  readonly options: Options
  readonly stageName: string
  /** The entry's key path in the config, e.g. `stages[1]`. */
  readonly at: string
}

export interface StageKind<Fields extends Schema.Struct.Fields = Schema.Struct.Fields, Summary = unknown> {
  readonly kind: string
  readonly description: string
  /**
   * `outer` stages shape what the inner stages search (instructions, directions); `inner` stages change the
   * target's code. The `inner-only` arm runs only the inner stages.
   */
  readonly role: StageRole
  /** Schema of the entry's options (every key except `kind` and `name`); unknown keys are rejected. */
  readonly options: Schema.Struct<Fields>
  /**
   * Schema of the outcome's summary. It holds at least the fields of the role's summary (InnerSummary or
   * OuterSummary), which is what the report, the CLI and the dashboard decode; the summary is checked
   * against it before it is stored.
   */
  readonly summary: Schema.Codec<Summary, unknown>
  readonly run: (context: StageContext<Schema.Struct<Fields>["Type"]>) => Effect.Effect<StageOutcome<Summary>, StageRunError, StageServices>
  /**
   * Checks what can be known before a run starts — the budget, what there is to search in the target's
   * files — by reading the config and the files on disk only (no store, no git, no processes). Errors
   * refuse the run before its row, branches or worktrees exist; `twoloop doctor` prints all findings.
   */
  preflight?(context: PreflightContext<Schema.Struct<Fields>["Type"]>): ReadonlyArray<PreflightFinding>
}

type RoleSummary<Role extends StageRole> = Role extends "inner" ? InnerSummary : OuterSummary

const registryKey = Symbol.for("twoloop.stageKinds")

const registry = (): Map<string, StageKind<any>> => {
  const global = globalThis as { [registryKey]?: Map<string, StageKind<any>> }
  return (global[registryKey] ??= new Map())
}

/** Makes a stage kind available to configs; registering the same kind name again replaces it. */
export const registerStageKind = <Fields extends Schema.Struct.Fields, Role extends StageRole, Summary extends RoleSummary<Role>>(
  kind: StageKind<Fields, Summary> & { readonly role: Role },
): StageKind<Fields, Summary> => {
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
    const lines = issue ? issueLines(issue).map((line) => formatIssueLine({ path: [at, ...line.path], message: line.message })) : []
    return { ok: false, message: lines.length > 0 ? lines.join("\n") : `${at}: invalid options` }
  },
}

/** A stage kind's role; a kind not registered in this process counts by its name (gepa is outer). */
export const roleOf = (kind: string): StageRole => getStageKind(kind)?.role ?? (kind === "gepa" ? "outer" : "inner")

const decodeInner = Schema.decodeUnknownExit(InnerSummaryCodec)
const decodeOuter = Schema.decodeUnknownExit(OuterSummaryCodec)

/** An inner stage's stored summary, decoded with the role's schema; null while there is none (or one from an older twoloop). */
export const innerSummaryOf = (stage: Pick<StageRecord, "summary">): InnerSummary | null => {
  if (stage.summary === null) return null
  const exit = decodeInner(stage.summary)
  return Exit.isSuccess(exit) ? exit.value : null
}

/** An outer stage's stored summary, decoded with the role's schema; null while there is none (or one from an older twoloop). */
export const outerSummaryOf = (stage: Pick<StageRecord, "summary">): OuterSummary | null => {
  if (stage.summary === null) return null
  const exit = decodeOuter(stage.summary)
  return Exit.isSuccess(exit) ? exit.value : null
}

/** Checks a stage's outcome summary against its kind's schema and gives the JSON-ready value to store. */
export const encodeSummary = (kind: StageKind<any, any>, summary: unknown): unknown => Schema.encodeUnknownSync(kind.summary as Schema.Codec<unknown, unknown>)(summary)
