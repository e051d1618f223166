/**
 * Replies that must follow a format (a ranked list, an instruction in a ``` block), with one corrective
 * retry: a reply that does not follow the format — empty, refused as too long by the Llm service, or one
 * the caller's `judge` rejects — is answered by a second call with the same prompt plus a note (the
 * `reply-correction` template) stating the problem and the format. If that reply fails too, the caller
 * falls back. Each call is one `Llm` request, so every attempt is in the ledger. Failures that are not
 * about the reply (HTTP, network, timeout, after the Llm service's retries) fail as LlmError.
 */
import { Effect } from "effect"
import type { LlmError } from "../../src/domain/errors.ts"
import { Llm, type LlmRequest } from "../../src/services/Llm.ts"
import { type PromptTemplate, renderTemplate } from "../../src/services/Prompts.ts"

export const correctionTemplateName = "reply-correction"

export type Judged<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problem: string }

export interface Reply {
  /** The reply's text; empty for an empty reply or one refused as too long. */
  readonly text: string
  readonly callId: number | null
  readonly costUsd: number
  /** Why the Llm service refused the reply (empty, too long); undefined when it returned one. */
  readonly refused: string | undefined
}

/** Why a reply refused by the Llm service cannot be used, as the corrective note states it; else undefined. */
const refusal = (error: LlmError): string | undefined =>
  error.reason === "empty" ? "It was empty." : error.reason === "malformed" ? "It was far too long (over the reply size limit)." : undefined

/** One call; an empty or over-long reply comes back as a `Reply` with `refused` set, other failures fail. */
export const askOnce = (request: LlmRequest): Effect.Effect<Reply, LlmError, Llm> =>
  Effect.gen(function* () {
    const llm = yield* Llm
    return yield* llm.generateText(request).pipe(
      Effect.map((result): Reply => ({ text: result.text, callId: result.callId, costUsd: result.costUsd ?? 0, refused: undefined })),
      Effect.catchTag("LlmError", (error: LlmError) => {
        const refused = refusal(error)
        return refused === undefined ? Effect.fail(error) : Effect.succeed<Reply>({ text: "", callId: null, costUsd: 0, refused })
      }),
    )
  })

/** A problem as a clause inside a sentence: "It was empty." → "it was empty". */
export const asClause = (problem: string): string => `${problem.charAt(0).toLowerCase()}${problem.slice(1)}`.replace(/\.$/, "")

/** The prompt of the corrective retry: the original prompt, the problem and the format restated. */
export const correctionPrompt = (template: PromptTemplate, prompt: string, problem: string, format: string): string =>
  renderTemplate(template.text, { prompt, problem, format })

/** Judges a reply, a refused one included. */
export const judgeReply = <A>(reply: Reply, judge: (text: string) => Judged<A>): Judged<A> =>
  reply.refused !== undefined ? { ok: false, problem: reply.refused } : judge(reply.text)

export interface FormattedReply<A> {
  /** The value of the reply that followed the format; undefined when neither did. */
  readonly value: A | undefined
  /** The problem of each reply that did not follow the format, in order. */
  readonly problems: ReadonlyArray<string>
  readonly replies: ReadonlyArray<Reply>
}

/**
 * Asks `request`; when the reply does not follow the format, asks once more with the corrective note (its
 * ledger row carries the correction template's hash).
 */
export const askInFormat = <A>(options: {
  readonly request: LlmRequest
  readonly judge: (text: string) => Judged<A>
  readonly correction: PromptTemplate
  /** The format, restated in the corrective note. */
  readonly format: string
}): Effect.Effect<FormattedReply<A>, LlmError, Llm> =>
  Effect.gen(function* () {
    const first = yield* askOnce(options.request)
    const judged = judgeReply(first, options.judge)
    if (judged.ok) return { value: judged.value, problems: [], replies: [first] }
    const prompt = correctionPrompt(options.correction, options.request.prompt, judged.problem, options.format)
    const second = yield* askOnce({ ...options.request, prompt, templateHash: options.correction.hash })
    const again = judgeReply(second, options.judge)
    return again.ok
      ? { value: again.value, problems: [judged.problem], replies: [first, second] }
      : { value: undefined, problems: [judged.problem, again.problem], replies: [first, second] }
  })
