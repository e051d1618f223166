/**
 * The harness-owned time limits of one experiment run. The hard limit is `timeBudgetSeconds × killFactor +
 * graceSeconds`: past it the whole process tree gets SIGTERM, and SIGKILL `killGraceSeconds` later. Pure.
 */

export interface RunLimits {
  /** Multiplies the run's time budget (≥ 1). */
  readonly killFactor: number
  /** Slack added on top (start-up, evaluation). */
  readonly graceSeconds: number
  /** Seconds between SIGTERM and SIGKILL at the hard limit. */
  readonly killGraceSeconds: number
}

export const defaultRunLimits: RunLimits = { killFactor: 2, graceSeconds: 30, killGraceSeconds: 5 }

export const hardLimitSeconds = (timeBudgetSeconds: number, limits: Pick<RunLimits, "killFactor" | "graceSeconds">): number =>
  timeBudgetSeconds * limits.killFactor + limits.graceSeconds
