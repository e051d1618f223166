/**
 * Outer-level bookkeeping: the candidate pool, per-example evaluations (also the evaluation cache, keyed by
 * candidate hash, split and example id), one proposal row per iteration, and reflection replies (kept so a
 * replayed iteration after a crash reuses the reply instead of asking the model again).
 */
import { type CandidateOrigin, CandidateRecord, EvaluationRecord, ProposalRecord, type Split } from "../../domain/Candidate.ts"
import { jsonOrNull, rowDecoder } from "./decode.ts"
import type { Db } from "./open.ts"
import { now } from "./runs.ts"

interface CandidateRow {
  idx: number
  hash: string
  components_json: string
  parent1: number | null
  parent2: number | null
  origin: CandidateOrigin
  library_entry_id: string | null
  iteration: number
  metric_calls: number
  offline: number
}

const toCandidate = rowDecoder(CandidateRecord, "candidates", (row: CandidateRow) => ({
  idx: row.idx,
  hash: row.hash,
  components: JSON.parse(row.components_json),
  parents: [row.parent1, row.parent2].filter((p): p is number => p !== null),
  origin: row.origin,
  libraryEntryId: row.library_entry_id,
  iteration: row.iteration,
  metricCalls: row.metric_calls,
  offline: row.offline === 1,
}), (row) => `#${row.idx}`)

export const insertCandidate = (db: Db, stageId: number, candidate: CandidateRecord): void => {
  db.prepare(
    `INSERT INTO candidates (stage_id, idx, hash, components_json, parent1, parent2, origin, library_entry_id, iteration, metric_calls, offline, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    stageId,
    candidate.idx,
    candidate.hash,
    JSON.stringify(candidate.components),
    candidate.parents[0] ?? null,
    candidate.parents[1] ?? null,
    candidate.origin,
    candidate.libraryEntryId,
    candidate.iteration,
    candidate.metricCalls,
    candidate.offline ? 1 : 0,
    now(),
  )
}

export const listCandidates = (db: Db, stageId: number): Array<CandidateRecord> =>
  (db.prepare(`SELECT * FROM candidates WHERE stage_id = ? ORDER BY idx`).all(stageId) as Array<CandidateRow>).map(toCandidate)

interface EvaluationRow {
  candidate_hash: string
  split: Split
  example_id: string
  score: number
  output_json: string | null
  trajectory_json: string | null
  charged_iteration: number
}

const toEvaluation = rowDecoder(EvaluationRecord, "evaluations", (row: EvaluationRow) => ({
  candidateHash: row.candidate_hash,
  split: row.split,
  exampleId: row.example_id,
  score: row.score,
  output: jsonOrNull(row.output_json),
  trajectory: jsonOrNull(row.trajectory_json),
  chargedIteration: row.charged_iteration,
}), (row) => `${row.candidate_hash.slice(0, 12)}/${row.split}/${row.example_id}`)

/** Writes one evaluation; a second write of the same key is ignored (the first result is the cached one). */
export const insertEvaluation = (db: Db, stageId: number, evaluation: EvaluationRecord): void => {
  db.prepare(
    `INSERT OR IGNORE INTO evaluations (stage_id, candidate_hash, split, example_id, score, output_json, trajectory_json, charged_iteration, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    stageId,
    evaluation.candidateHash,
    evaluation.split,
    evaluation.exampleId,
    evaluation.score,
    evaluation.output === undefined ? null : JSON.stringify(evaluation.output),
    evaluation.trajectory === undefined ? null : JSON.stringify(evaluation.trajectory),
    evaluation.chargedIteration,
    now(),
  )
}

export const getEvaluations = (db: Db, stageId: number, candidateHash: string, split: Split): Array<EvaluationRecord> =>
  (
    db
      .prepare(`SELECT * FROM evaluations WHERE stage_id = ? AND candidate_hash = ? AND split = ?`)
      .all(stageId, candidateHash, split) as Array<EvaluationRow>
  ).map(toEvaluation)

export const listEvaluations = (db: Db, stageId: number): Array<EvaluationRecord> =>
  (db.prepare(`SELECT * FROM evaluations WHERE stage_id = ?`).all(stageId) as Array<EvaluationRow>).map(toEvaluation)

export const insertProposal = (db: Db, stageId: number, proposal: ProposalRecord): void => {
  db.prepare(
    `INSERT OR REPLACE INTO proposals (stage_id, iteration, kind, parent1, parent2, components_json, minibatch_json, sum_before, sum_after,
       accepted, reason, reflection_prompt, reflection_output, child_idx, offline, metric_calls, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    stageId,
    proposal.iteration,
    proposal.kind,
    proposal.parents[0] ?? null,
    proposal.parents[1] ?? null,
    JSON.stringify(proposal.components),
    JSON.stringify(proposal.minibatch),
    proposal.sumBefore,
    proposal.sumAfter,
    proposal.accepted ? 1 : 0,
    proposal.reason,
    proposal.reflectionPrompt,
    proposal.reflectionOutput,
    proposal.childIdx,
    proposal.offline ? 1 : 0,
    proposal.metricCalls,
    now(),
  )
}

interface ProposalRow {
  iteration: number
  kind: ProposalRecord["kind"]
  parent1: number | null
  parent2: number | null
  components_json: string
  minibatch_json: string
  sum_before: number | null
  sum_after: number | null
  accepted: number
  reason: string
  reflection_prompt: string | null
  reflection_output: string | null
  child_idx: number | null
  offline: number
  metric_calls: number
}

const toProposal = rowDecoder(ProposalRecord, "proposals", (row: ProposalRow) => ({
    iteration: row.iteration,
    kind: row.kind,
    parents: [row.parent1, row.parent2].filter((p): p is number => p !== null),
    components: JSON.parse(row.components_json),
    minibatch: JSON.parse(row.minibatch_json),
    sumBefore: row.sum_before,
    sumAfter: row.sum_after,
    accepted: row.accepted === 1,
    reason: row.reason,
    reflectionPrompt: row.reflection_prompt,
    reflectionOutput: row.reflection_output,
    childIdx: row.child_idx,
    offline: row.offline === 1,
    metricCalls: row.metric_calls,
  }), (row) => `iteration ${row.iteration}`)

export const listProposals = (db: Db, stageId: number): Array<ProposalRecord> =>
  (db.prepare(`SELECT * FROM proposals WHERE stage_id = ? ORDER BY iteration`).all(stageId) as Array<ProposalRow>).map(toProposal)

export interface ReflectionRecord {
  readonly iteration: number
  readonly component: string
  readonly prompt: string
  readonly output: string
  readonly offline: boolean
  readonly llmCallId: number | null
}

export const putReflection = (db: Db, stageId: number, reflection: ReflectionRecord): void => {
  db.prepare(
    `INSERT OR REPLACE INTO reflections (stage_id, iteration, component, prompt, output, offline, llm_call_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(stageId, reflection.iteration, reflection.component, reflection.prompt, reflection.output, reflection.offline ? 1 : 0, reflection.llmCallId, now())
}

export const getReflection = (db: Db, stageId: number, iteration: number, component: string): ReflectionRecord | undefined => {
  const row = db.prepare(`SELECT * FROM reflections WHERE stage_id = ? AND iteration = ? AND component = ?`).get(stageId, iteration, component) as
    | { iteration: number; component: string; prompt: string; output: string; offline: number; llm_call_id: number | null }
    | undefined
  return row && { iteration: row.iteration, component: row.component, prompt: row.prompt, output: row.output, offline: row.offline === 1, llmCallId: row.llm_call_id }
}

/** Cached evaluations of one candidate on one split, limited to the given example ids (one query). */
export const getEvaluationsFor = (db: Db, stageId: number, candidateHash: string, split: Split, exampleIds: ReadonlyArray<string>): Array<EvaluationRecord> =>
  (
    db
      .prepare(
        `SELECT * FROM evaluations WHERE stage_id = ? AND candidate_hash = ? AND split = ? AND example_id IN (SELECT value FROM json_each(?))`,
      )
      .all(stageId, candidateHash, split, JSON.stringify(exampleIds)) as Array<EvaluationRow>
  ).map(toEvaluation)

/** Example id → score of one candidate on one split, without decoding outputs or trajectories. */
export const getScores = (db: Db, stageId: number, candidateHash: string, split: Split): Map<string, number> =>
  new Map(
    (
      db.prepare(`SELECT example_id, score FROM evaluations WHERE stage_id = ? AND candidate_hash = ? AND split = ?`).all(stageId, candidateHash, split) as Array<{
        example_id: string
        score: number
      }>
    ).map((row) => [row.example_id, row.score]),
  )

/** The stored reflections of one iteration, with the cost of the LLM call each came from (0 when unknown). */
export const listIterationReflections = (db: Db, stageId: number, iteration: number): Array<ReflectionRecord & { readonly costUsd: number }> =>
  (
    db
      .prepare(
        `SELECT r.iteration, r.component, r.prompt, r.output, r.offline, r.llm_call_id, COALESCE(c.cost_usd, 0) AS cost_usd
         FROM reflections r LEFT JOIN llm_calls c ON c.id = r.llm_call_id
         WHERE r.stage_id = ? AND r.iteration = ? ORDER BY r.component`,
      )
      .all(stageId, iteration) as Array<{ iteration: number; component: string; prompt: string; output: string; offline: number; llm_call_id: number | null; cost_usd: number }>
  ).map((row) => ({
    iteration: row.iteration,
    component: row.component,
    prompt: row.prompt,
    output: row.output,
    offline: row.offline === 1,
    llmCallId: row.llm_call_id,
    costUsd: row.cost_usd,
  }))

/** Writes several evaluations with one prepared statement (call inside a transaction); first write of a key wins. */
export const insertEvaluations = (db: Db, stageId: number, evaluations: ReadonlyArray<EvaluationRecord>): void => {
  if (evaluations.length === 0) return
  const statement = db.prepare(
    `INSERT OR IGNORE INTO evaluations (stage_id, candidate_hash, split, example_id, score, output_json, trajectory_json, charged_iteration, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const createdAt = now()
  for (const evaluation of evaluations)
    statement.run(
      stageId,
      evaluation.candidateHash,
      evaluation.split,
      evaluation.exampleId,
      evaluation.score,
      evaluation.output === undefined ? null : JSON.stringify(evaluation.output),
      evaluation.trajectory === undefined ? null : JSON.stringify(evaluation.trajectory),
      evaluation.chargedIteration,
      createdAt,
    )
}
