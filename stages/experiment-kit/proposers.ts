/**
 * Proposers turn the search state into the next Edit. Both share one contract:
 *  - `propose` never fails: a model that keeps replying badly yields `Failed` (recorded by the caller),
 *    and a search space with nothing left yields `Exhausted`;
 *  - the offline proposer is pure underneath (see offlineProposer.ts) and labelled offline;
 *  - the LLM agent asks for structured output (the Edit schema); output that does not decode or does not
 *    apply to the files gets one corrective retry with the reason, then counts as a failed proposal.
 */
import { Effect } from "effect"
import type { MetricDirection } from "../../src/config.ts"
import { Edit } from "../../src/domain/Edit.ts"
import type { Direction } from "../../src/domain/Handoff.ts"
import type { Rng } from "../../src/common/rng.ts"
import { Llm } from "../../src/services/Llm.ts"
import { type RecentExperiment, renderAgentPrompt } from "./agentPrompt.ts"
import { applyChanges } from "./edits.ts"
import { type Move, type MoveOutcome, proposeOffline } from "./moves.ts"
import { inspectTunables, type TunableContext } from "./tunables/index.ts"

export interface ProposalRequest {
  readonly worker: number
  readonly incumbent: { readonly commit: string; readonly metric: number; readonly runs: number }
  /** Editable files at the incumbent commit. */
  readonly files: ReadonlyMap<string, string>
  readonly history: ReadonlyArray<MoveOutcome>
  readonly recent: ReadonlyArray<RecentExperiment>
  readonly pendingMoves: ReadonlyArray<Move>
  readonly pendingDescriptions: ReadonlyArray<string>
  readonly noiseSigma: number
  readonly gate: number
  readonly crash?: { readonly edit: Edit; readonly logTail: string; readonly attempt: number; readonly maxAttempts: number }
  readonly rng: Rng
  /** Extra guidance for this proposal (the outer stage's proxy scenarios use it). */
  readonly note?: string
}

export type ProposalResult =
  | { readonly _tag: "Edit"; readonly edit: Edit; readonly move?: Move }
  | { readonly _tag: "Failed"; readonly reason: string; readonly raw?: string }
  | { readonly _tag: "Exhausted" }

export interface Proposer {
  readonly name: "offline" | "llm"
  readonly offline: boolean
  /** Whether crashed ideas get fix attempts. */
  readonly fixesCrashes: boolean
  readonly propose: (request: ProposalRequest) => Effect.Effect<ProposalResult, never, Llm>
}

export const makeOfflineProposer = (directions: ReadonlyArray<Direction>, context?: TunableContext): Proposer => ({
  name: "offline",
  offline: true,
  fixesCrashes: false,
  propose: (request) =>
    Effect.sync(() => {
      const proposal = proposeOffline({ files: request.files, directions, history: request.history, pending: request.pendingMoves, rng: request.rng, noise: request.gate, ...(context ? { context } : {}) })
      return proposal ? { _tag: "Edit", edit: proposal.edit, move: proposal.move } : { _tag: "Exhausted" }
    }),
})

export interface AgentSettings {
  readonly model: string
  readonly instructions: string
  readonly instructionsHash: string
  readonly directions: ReadonlyArray<Direction>
  readonly metric: { readonly name: string; readonly direction: MetricDirection }
  readonly readonlyFiles: ReadonlyArray<string>
  readonly timeBudgetSeconds: number
  readonly runId: string
  readonly stageId: number
  readonly purpose?: string
  /** How the target runs: the prompt lists the tunables, and which ones the command sets. */
  readonly tunableContext?: TunableContext
}

export const makeAgentProposer = (settings: AgentSettings): Proposer => ({
  name: "llm",
  offline: false,
  fixesCrashes: true,
  propose: (request) =>
    Effect.gen(function* () {
      const llm = yield* Llm
      const prompt = renderAgentPrompt({
        instructions: settings.instructions,
        directions: settings.directions,
        metric: settings.metric,
        incumbent: request.incumbent,
        noiseSigma: request.noiseSigma,
        gate: request.gate,
        timeBudgetSeconds: settings.timeBudgetSeconds,
        files: request.files,
        readonlyFiles: settings.readonlyFiles,
        tunables: inspectTunables(request.files, settings.tunableContext),
        recent: request.recent,
        inFlight: request.pendingDescriptions,
        ...(request.crash ? { crash: request.crash } : {}),
        ...(request.note ? { note: request.note } : {}),
      })
      const ask = (text: string) =>
        llm
          .generateObject({
            purpose: settings.purpose ?? "code-search.propose",
            model: settings.model,
            prompt: text,
            schema: Edit,
            schemaName: "edit",
            templateHash: settings.instructionsHash,
            runId: settings.runId,
            stageId: settings.stageId,
          })
          .pipe(Effect.map((result) => result.value))

      let problem: { reason: string; raw?: string } | undefined
      for (let attempt = 0; attempt < 2; attempt++) {
        const text = problem ? `${prompt}\n\n# Your previous reply could not be used\n\n${problem.reason}\nReply again with one valid edit.` : prompt
        const reply = yield* ask(text).pipe(Effect.result)
        if (reply._tag === "Failure") {
          const error = reply.failure
          if (error.reason !== "malformed" && error.reason !== "empty") return { _tag: "Failed", reason: error.message } satisfies ProposalResult
          problem = { reason: `It was not valid JSON for the edit schema (${error.message}).`, ...(error.raw !== undefined ? { raw: error.raw } : {}) }
          continue
        }
        const edit = reply.success
        if (edit.changes.length === 0) {
          problem = { reason: "It contained no file change." }
          continue
        }
        // Edits aimed at files the agent may not touch go to the guards (and are recorded as rejected);
        // only edits that cannot apply to the files they name are treated as malformed here.
        const own = edit.changes.filter((change) => request.files.has(change.path.replace(/^\.\//, "")))
        if (own.length === edit.changes.length) {
          const applied = applyChanges(request.files, edit.changes)
          if (!applied.ok) {
            problem = { reason: `The edit does not apply: ${applied.reason}. Copy search text exactly from the file.` }
            continue
          }
        }
        return { _tag: "Edit", edit } satisfies ProposalResult
      }
      return { _tag: "Failed", reason: `model output unusable twice: ${problem?.reason ?? "unknown"}`, ...(problem?.raw !== undefined ? { raw: problem.raw } : {}) } satisfies ProposalResult
    }),
})
