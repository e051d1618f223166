/** The LLM ledger of a run as a timeline: cumulative cost over seconds since the run started, totals by purpose. Pure. */
import type { LlmCall } from "../domain/LlmCall.ts"

/** A ledger row without its texts (the timeline never loads prompts or replies). */
export type LlmCallRow = Omit<LlmCall, "runId" | "promptHash" | "templateHash" | "promptText" | "responseText">

export interface LlmPoint extends LlmCallRow {
  /** Seconds since the run started. */
  readonly seconds: number
  /** Sum of the known costs up to and including this call. */
  readonly cumulativeCostUsd: number
}

export interface LlmView {
  readonly calls: ReadonlyArray<LlmPoint>
  readonly byPurpose: ReadonlyArray<{ readonly purpose: string; readonly calls: number; readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null; readonly errors: number }>
  /** False when some call had no price (the cost line is then a lower bound). */
  readonly costKnown: boolean
}

const unpriced = (call: LlmCallRow) => call.costUsd === null && !call.cached && call.error === null

export const llmView = (calls: ReadonlyArray<LlmCallRow>, runStartedAt: string): LlmView => {
  const start = Date.parse(runStartedAt)
  let cumulative = 0
  const points = calls.map((call) => {
    cumulative += call.costUsd ?? 0
    return { ...call, seconds: Math.max(0, (Date.parse(call.createdAt) - start) / 1000), cumulativeCostUsd: cumulative }
  })
  const purposes = [...new Set(calls.map((c) => c.purpose))]
  return {
    calls: points,
    byPurpose: purposes.map((purpose) => {
      const rows = calls.filter((c) => c.purpose === purpose)
      return {
        purpose,
        calls: rows.length,
        inputTokens: rows.reduce((s, c) => s + (c.inputTokens ?? 0), 0),
        outputTokens: rows.reduce((s, c) => s + (c.outputTokens ?? 0), 0),
        costUsd: rows.some(unpriced) ? null : rows.reduce((s, c) => s + (c.costUsd ?? 0), 0),
        errors: rows.filter((c) => c.error !== null).length,
      }
    }),
    costKnown: !calls.some(unpriced),
  }
}
