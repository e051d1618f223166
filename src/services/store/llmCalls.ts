/** The LLM ledger: every model call with tokens, cost, latency and outcome; also the response cache. */
import { LlmCall } from "../../domain/LlmCall.ts"
import { rowDecoder } from "./decode.ts"
import type { Db } from "./open.ts"
import { now } from "./runs.ts"

export interface NewLlmCall {
  readonly runId: string | null
  readonly stageId: number | null
  readonly purpose: string
  readonly model: string
  readonly promptHash: string
  readonly templateHash: string | null
  readonly promptText: string
  readonly responseText: string | null
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  readonly costUsd: number | null
  readonly latencyMs: number
  readonly cached: boolean
  readonly attempt: number
  readonly error: string | null
}

export const insertLlmCall = (db: Db, call: NewLlmCall): number =>
  Number(
    db
      .prepare(
        `INSERT INTO llm_calls (run_id, stage_id, purpose, model, prompt_hash, template_hash, prompt_text, response_text,
           input_tokens, output_tokens, cost_usd, latency_ms, cached, attempt, error, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        call.runId,
        call.stageId,
        call.purpose,
        call.model,
        call.promptHash,
        call.templateHash,
        call.promptText,
        call.responseText,
        call.inputTokens,
        call.outputTokens,
        call.costUsd,
        Math.round(call.latencyMs),
        call.cached ? 1 : 0,
        call.attempt,
        call.error,
        now(),
      ).lastInsertRowid,
  )

/** The most recent successful response for (model, prompt hash), for the optional response cache. */
export const cachedResponse = (db: Db, model: string, promptHash: string): string | undefined => {
  const row = db
    .prepare(`SELECT response_text FROM llm_calls WHERE model = ? AND prompt_hash = ? AND error IS NULL AND response_text IS NOT NULL ORDER BY id DESC LIMIT 1`)
    .get(model, promptHash) as { response_text: string } | undefined
  return row?.response_text
}

interface LlmCallRow {
  id: number
  run_id: string | null
  stage_id: number | null
  purpose: string
  model: string
  prompt_hash: string
  template_hash: string | null
  prompt_text: string
  response_text: string | null
  input_tokens: number | null
  output_tokens: number | null
  cost_usd: number | null
  latency_ms: number
  cached: number
  attempt: number
  error: string | null
  created_at: string
}

const toLlmCall = rowDecoder(LlmCall, "llm_calls", (row: LlmCallRow) => ({
  id: row.id,
  runId: row.run_id,
  stageId: row.stage_id,
  purpose: row.purpose,
  model: row.model,
  promptHash: row.prompt_hash,
  templateHash: row.template_hash,
  promptText: row.prompt_text,
  responseText: row.response_text,
  inputTokens: row.input_tokens,
  outputTokens: row.output_tokens,
  costUsd: row.cost_usd,
  latencyMs: row.latency_ms,
  cached: row.cached === 1,
  attempt: row.attempt,
  error: row.error,
  createdAt: row.created_at,
}), (row) => row.id)

export const getLlmCall = (db: Db, id: number): LlmCall | undefined => {
  const row = db.prepare(`SELECT * FROM llm_calls WHERE id = ?`).get(id) as LlmCallRow | undefined
  return row && toLlmCall(row)
}

export const listLlmCalls = (db: Db, runId: string): Array<LlmCall> =>
  (db.prepare(`SELECT * FROM llm_calls WHERE run_id = ? ORDER BY id`).all(runId) as Array<LlmCallRow>).map(toLlmCall)

export interface LlmTotals {
  readonly calls: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** Null when any counted call had an unknown price. */
  readonly costUsd: number | null
}

export const llmTotals = (db: Db, filter: { runId: string; stageId?: number }): LlmTotals => {
  const row = db
    .prepare(
      `SELECT COUNT(*) AS calls, COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(output_tokens), 0) AS output,
              SUM(cost_usd) AS cost, SUM(CASE WHEN cost_usd IS NULL AND cached = 0 AND error IS NULL THEN 1 ELSE 0 END) AS unpriced
       FROM llm_calls WHERE run_id = ? AND (? IS NULL OR stage_id = ?)`,
    )
    .get(filter.runId, filter.stageId ?? null, filter.stageId ?? null) as { calls: number; input: number; output: number; cost: number | null; unpriced: number }
  return {
    calls: row.calls,
    inputTokens: row.input,
    outputTokens: row.output,
    costUsd: row.unpriced > 0 ? null : (row.cost ?? 0),
  }
}
