/**
 * Budgets and stop conditions. Metric calls are counted two ways (see `Accounting`) and the budget counts
 * one of them. They are a hard budget: an iteration starts only when it can afford its worst case — the
 * parent's minibatch, the child's minibatch and a full validation of the child should it be accepted — and
 * each batch reserves its charge before any evaluation starts, so the budget is never exceeded. The other
 * conditions (iterations, reflection cost, wall time, patience, score threshold, stop file, stop request)
 * are checked at iteration boundaries and OR-combined; cost can overshoot by one iteration's reflection calls.
 */

/**
 * What `metricCalls` counts. `runs`: evaluations actually run — a (candidate, example) pair costs one call
 * the first time an iteration needs it, and nothing when the evaluation cache already holds it from an
 * earlier iteration. `reference`: what gepa charges for the same steps — the length of every minibatch
 * (repeated ids included, cache or not), the whole validation set for every full validation, the gate
 * subsample of a merge.
 */
export type Accounting = "runs" | "reference"

export const defaultAccounting: Accounting = "runs"

export interface Budget {
  /** Metric calls, counted as `accounting` says. */
  readonly metricCalls?: number | undefined
  /** Default `runs`. */
  readonly accounting?: Accounting | undefined
  /** USD spent on this optimization's reflection calls. */
  readonly costUsd?: number | undefined
  /** Wall-clock seconds of optimization (summed over resumed sessions). */
  readonly seconds?: number | undefined
  /** Iterations in a row without a new best mean validation score. */
  readonly patience?: number | undefined
  /** Stop once the best mean validation score reaches this. */
  readonly scoreThreshold?: number | undefined
  /** Iterations (reflective or merge) to run at most. */
  readonly iterations?: number | undefined
}

export type StopReason = "stalled" | "iterations" | "metric-calls" | "cost" | "time" | "patience" | "score-threshold" | "stop-file" | "stop-requested"

export const stopReasonText: Readonly<Record<StopReason, string>> = {
  stalled: "no iteration evaluated anything new for a long while (every drawn minibatch is already solved)",
  iterations: "the iteration budget is spent",
  "metric-calls": "the metric-call budget cannot afford another iteration",
  cost: "the reflection cost budget is spent",
  time: "the time budget is spent",
  patience: "no new best validation score within the patience",
  "score-threshold": "the best validation score reached the threshold",
  "stop-file": "the stop file exists",
  "stop-requested": "a stop was requested",
}

export interface BudgetUse {
  /** Iterations completed so far. */
  readonly iterations: number
  readonly metricCalls: number
  readonly reflectionCostUsd: number
  readonly elapsedSeconds: number
  readonly iterationsWithoutImprovement: number
  readonly bestMean: number
  /** Iterations in a row that charged no metric call. */
  readonly idleIterations: number
}

/** The first budget condition that says stop, checked at an iteration boundary. */
export const budgetStopReason = (budget: Budget, use: BudgetUse, idleLimit = Number.POSITIVE_INFINITY): StopReason | undefined => {
  if (budget.iterations !== undefined && use.iterations >= budget.iterations) return "iterations"
  if (budget.metricCalls !== undefined && use.metricCalls >= budget.metricCalls) return "metric-calls"
  if (budget.costUsd !== undefined && use.reflectionCostUsd >= budget.costUsd) return "cost"
  if (budget.seconds !== undefined && use.elapsedSeconds >= budget.seconds) return "time"
  if (budget.scoreThreshold !== undefined && use.bestMean >= budget.scoreThreshold) return "score-threshold"
  if (budget.patience !== undefined && use.iterationsWithoutImprovement >= budget.patience) return "patience"
  if (use.idleIterations >= idleLimit) return "stalled"
  return undefined
}

/**
 * How many iterations in a row may charge nothing before the run counts as stalled: two passes over the
 * train set (at least 10). With the cache, a perfect parent on an already-evaluated minibatch is skipped
 * for free; without this rule such a run would never exhaust a metric-call budget.
 */
export const idleIterationLimit = (trainSize: number, minibatchSize: number): number => Math.max(10, 2 * Math.ceil(trainSize / minibatchSize))

/** True when `needed` more metric calls fit in the budget. */
export const canAfford = (budget: Budget, used: number, needed: number): boolean =>
  budget.metricCalls === undefined || used + needed <= budget.metricCalls

/** The worst-case charge of one reflective iteration (see the module comment). */
export const reflectiveIterationCost = (parentChargeable: number, childChargeable: number, validationSize: number): number =>
  parentChargeable + childChargeable + validationSize

/** True when the budget has at least one condition that ends an optimization on its own. */
export const hasTerminatingCondition = (budget: Budget): boolean =>
  budget.iterations !== undefined || budget.metricCalls !== undefined || budget.costUsd !== undefined || budget.seconds !== undefined || budget.patience !== undefined
