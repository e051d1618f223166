/**
 * Noticing a command that ignores TWOLOOP_SEED: runs with different seeds that report the very same
 * metric mean the seed never reached the training, so the measured noise (σ = 0) says nothing. Pure.
 */

export interface SeededRun {
  readonly seed: number
  readonly metric: number | null
}

/** True when at least two different seeds were measured and every measured run gave the same value. */
export const seedsLookIgnored = (runs: ReadonlyArray<SeededRun>): boolean => {
  const measured = runs.filter((run) => run.metric !== null)
  return new Set(measured.map((run) => run.seed)).size >= 2 && new Set(measured.map((run) => run.metric)).size === 1
}

export const seedsIgnoredWarning = (stage: string, metric: string, runs: ReadonlyArray<SeededRun>, what = "baseline runs"): string => {
  const measured = runs.filter((run) => run.metric !== null)
  return (
    `warning: ${stage}: the ${measured.length} ${what} with seeds ${measured.map((run) => run.seed).join(", ")} all gave ${metric} ${measured[0]?.metric}; ` +
    "the command probably ignores TWOLOOP_SEED, so the run-to-run noise is unknown and the keep gate cannot tell noise from gains. " +
    "Pass the seed to the script, e.g. `--seed $TWOLOOP_SEED` in target.command"
  )
}
