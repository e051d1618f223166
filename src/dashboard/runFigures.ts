/**
 * The runs list's figures, read with a few small aggregate queries per run instead of the run's full report
 * data. They are the report's figures (`buildReport`), by the same rules:
 * - an inner stage's metric, direction, baseline, best and gain come from its persisted summary, as in the
 *   report (a stage writes it when it ends, so they are null while it runs, there too); its counts come
 *   from the `(stage_id, status)` index;
 * - the outer stage's seed and best scores are per-candidate validation means. SQLite's AVG sums with
 *   compensation and the report sums in row order, so the candidates that can decide a figure (the seed,
 *   the ones within rounding of the top) are summed again the report's way: the figures agree to the bit;
 * - LLM calls and cost are the ledger's totals (`llmTotals`, as the report reads them).
 * `offline` is read from the rows only where a summary does not say, as in the report. Reads only; call
 * inside a read transaction for a consistent snapshot.
 */
import type { Run } from "../domain/Run.ts"
import { roleOf } from "../pipeline/report/write.ts"
import { llmTotals } from "../services/store/llmCalls.ts"
import type { Db } from "../services/store/open.ts"
import type { RunFigures } from "./views.ts"

interface StageLine {
  readonly id: number
  readonly arm: string
  readonly kind: string
  readonly summary_json: string | null
}

interface CandidateLine {
  readonly hash: string
  readonly origin: string
  readonly offline: number
  /** Null when the candidate has no validation score. */
  readonly mean: number | null
  readonly magnitude: number | null
}

type Summary = Partial<Record<string, unknown>>

const numberIn = (summary: Summary, key: string) => (typeof summary[key] === "number" ? (summary[key] as number) : null)

/** Relative bound, far above the n·2⁻⁵³ by which two summation orders of n scores can differ. */
const rounding = 1e-9

/**
 * Seed and best validation means chosen the way `outerReport` chooses them. `exactMean` sums one candidate's
 * scores in the report's order; it is called for the seed and for the candidates that rounding could make best.
 */
const outerScores = (candidates: ReadonlyArray<CandidateLine>, exactMean: (hash: string) => number) => {
  const scored = candidates.filter((c) => c.mean !== null)
  const finite = (c: CandidateLine) => Number.isFinite(c.mean) && Number.isFinite(c.magnitude)
  const floor = scored.filter(finite).reduce((top, c) => Math.max(top, c.mean! - rounding * c.magnitude!), -Infinity)
  let best: number | null = null
  for (const c of scored) {
    if (finite(c) && c.mean! + rounding * c.magnitude! < floor) continue
    const mean = exactMean(c.hash)
    if (best === null || mean > best) best = mean
  }
  const seed = candidates.find((c) => c.origin === "seed") ?? candidates[0]
  const seedScore = seed?.mean == null ? null : exactMean(seed.hash)
  return { seedScore, bestScore: best, gain: seedScore !== null && best !== null ? best - seedScore : null }
}

/** Prepares the statements once; the returned function reads one run's figures. */
export const runFiguresReader = (db: Db): ((run: Run) => RunFigures) => {
  // the order `listStages` gives, which the report picks its primary arm and last stages by
  const stages = db.prepare(`SELECT id, arm, kind, summary_json FROM stages WHERE run_id = ? ORDER BY CASE arm WHEN 'hybrid' THEN 0 ELSE 1 END, arm, position`)
  const counts = db.prepare(`SELECT COUNT(*) AS experiments, COALESCE(SUM(status = 'keep'), 0) AS kept FROM experiments WHERE stage_id = ?`)
  const experimentOffline = db.prepare(`SELECT EXISTS (SELECT 1 FROM experiments WHERE stage_id = ? AND offline = 1) AS offline`).pluck()
  // one primary-key seek per candidate, reading only its validation scores
  const candidates = db.prepare(
    `SELECT c.hash, c.origin, c.offline, AVG(e.score) AS mean, AVG(ABS(e.score)) AS magnitude
     FROM candidates c LEFT JOIN evaluations e ON e.stage_id = c.stage_id AND e.candidate_hash = c.hash AND e.split = 'val'
     WHERE c.stage_id = ? GROUP BY c.idx ORDER BY c.idx`,
  )
  // primary-key order, the order `listEvaluations` returns a candidate's scores in
  const validationScores = db.prepare(`SELECT score FROM evaluations WHERE stage_id = ? AND candidate_hash = ? AND split = 'val' ORDER BY example_id`).pluck()
  const proposalOffline = db.prepare(`SELECT EXISTS (SELECT 1 FROM proposals WHERE stage_id = ? AND offline = 1) AS offline`).pluck()

  return (run) => {
    const lines = (stages.all(run.id) as Array<StageLine>).map((s) => ({ ...s, role: roleOf(s.kind), summary: (s.summary_json === null ? {} : (JSON.parse(s.summary_json) ?? {})) as Summary }))
    const inner = lines.filter((s) => s.role === "inner")
    const arms = [...new Set(lines.map((s) => s.arm))]
    const primaryArm = arms.includes("hybrid") ? "hybrid" : arms[0]
    let experiments = 0
    let kept = 0
    for (const stage of inner) {
      const row = counts.get(stage.id) as { experiments: number; kept: number }
      experiments += row.experiments
      kept += row.kept
    }

    const last = inner.filter((s) => s.arm === primaryArm).at(-1)
    const innerFigures = last && {
      metric: typeof last.summary.metric === "string" ? last.summary.metric : "",
      direction: last.summary.direction === "maximize" ? ("maximize" as const) : ("minimize" as const),
      baseline: numberIn(last.summary, "baseline"),
      best: numberIn(last.summary, "best"),
      gain: numberIn(last.summary, "gain"),
      offline: typeof last.summary.offline === "boolean" ? last.summary.offline : experimentOffline.get(last.id) === 1,
    }

    const outer = lines.find((s) => s.role === "outer")
    let outerFigures: RunFigures["outer"] = null
    if (outer) {
      const pool = candidates.all(outer.id) as Array<CandidateLine>
      const exactMean = (hash: string) => {
        const scores = validationScores.all(outer.id, hash) as Array<number>
        let sum = 0
        for (const score of scores) sum += score
        return sum / scores.length
      }
      const offline = typeof outer.summary.offline === "boolean" ? outer.summary.offline : pool.some((c) => c.offline === 1) || proposalOffline.get(outer.id) === 1
      outerFigures = { ...outerScores(pool, exactMean), offline }
    }

    const llm = llmTotals(db, { runId: run.id })
    return { inner: innerFigures ?? null, outer: outerFigures, experiments, kept, llm: { calls: llm.calls, costUsd: llm.costUsd } }
  }
}
