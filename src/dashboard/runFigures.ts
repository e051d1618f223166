/**
 * The runs list's figures, read with a few small queries per run instead of the run's full report data.
 * They are the report's figures, by the report's own rules:
 * - an inner stage's figures come from its decoded summary (`innerSummaryOf`; null while it runs, as in
 *   the report); its counts from the `(stage_id, status)` index;
 * - an outer stage's scores come from `outerScores`, the report's function: its summary once it has one,
 *   else its candidates and validation scores (read without outputs or trajectories);
 * - LLM calls and cost are the ledger's totals (`llmTotals`, as the report reads them).
 * `offline` is read from the rows only where a summary does not say, as in the report. Reads only; call
 * inside a read transaction for a consistent snapshot.
 */
import type { CandidateRecord, EvaluationRecord } from "../domain/Candidate.ts"
import type { Run, StageRecord } from "../domain/Run.ts"
import { outerScores } from "../pipeline/report/model.ts"
import { innerSummaryOf, outerSummaryOf, roleOf } from "../pipeline/StageKind.ts"
import { llmTotals } from "../services/store/llmCalls.ts"
import type { Db } from "../services/store/open.ts"
import { listStages } from "../services/store/runs.ts"
import type { RunFigures } from "./views.ts"

/** Prepares the statements once; the returned function reads one run's figures. */
export const runFiguresReader = (db: Db): ((run: Run) => RunFigures) => {
  const counts = db.prepare(`SELECT COUNT(*) AS experiments, COALESCE(SUM(status = 'keep'), 0) AS kept FROM experiments WHERE stage_id = ?`)
  const experimentOffline = db.prepare(`SELECT EXISTS (SELECT 1 FROM experiments WHERE stage_id = ? AND offline = 1) AS offline`).pluck()
  const candidates = db.prepare(`SELECT idx, hash, origin, offline FROM candidates WHERE stage_id = ? ORDER BY idx`)
  // primary-key order, the order `listEvaluations` returns them in (the report sums each candidate's scores in it)
  const validationScores = db.prepare(`SELECT candidate_hash AS candidateHash, split, score FROM evaluations WHERE stage_id = ? AND split = 'val' ORDER BY candidate_hash, example_id`)
  const proposalOffline = db.prepare(`SELECT EXISTS (SELECT 1 FROM proposals WHERE stage_id = ? AND offline = 1) AS offline`).pluck()

  return (run) => {
    const stages: ReadonlyArray<StageRecord> = listStages(db, run.id)
    const inner = stages.filter((s) => roleOf(s.kind) === "inner")
    const arms = [...new Set(stages.map((s) => s.arm))]
    const primaryArm = arms.includes("hybrid") ? "hybrid" : arms[0]
    let experiments = 0
    let kept = 0
    for (const stage of inner) {
      const row = counts.get(stage.id) as { experiments: number; kept: number }
      experiments += row.experiments
      kept += row.kept
    }

    const last = inner.filter((s) => s.arm === primaryArm).at(-1)
    const summary = last ? innerSummaryOf(last) : null
    const innerFigures = last && {
      metric: summary?.metric ?? "",
      direction: summary?.direction ?? ("minimize" as const),
      baseline: summary?.baseline ?? null,
      best: summary?.best ?? null,
      gain: summary?.gain ?? null,
      offline: summary?.offline ?? experimentOffline.get(last.id) === 1,
    }

    const outer = stages.find((s) => roleOf(s.kind) === "outer")
    let outerFigures: RunFigures["outer"] = null
    if (outer) {
      const pool = outerSummaryOf(outer) ? [] : (candidates.all(outer.id) as Array<Pick<CandidateRecord, "idx" | "hash" | "origin"> & { offline: number }>)
      const scores = outerSummaryOf(outer) ? [] : (validationScores.all(outer.id) as Array<Pick<EvaluationRecord, "candidateHash" | "split" | "score">>)
      const { seedScore, bestScore, gain } = outerScores(outer, pool, scores)
      const offline = outerSummaryOf(outer)?.offline ?? (pool.some((c) => c.offline === 1) || proposalOffline.get(outer.id) === 1)
      outerFigures = { seedScore, bestScore, gain, offline }
    }

    const llm = llmTotals(db, { runId: run.id })
    return { inner: innerFigures ?? null, outer: outerFigures, experiments, kept, llm: { calls: llm.calls, costUsd: llm.costUsd } }
  }
}
