/** The few statistics the research logic and the reports need. Pure. */

/** Arithmetic mean; NaN for an empty list. */
export const mean = (values: ReadonlyArray<number>): number => (values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length)

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
export const standardDeviation = (values: ReadonlyArray<number>): number => {
  if (values.length < 2) return 0
  const m = mean(values)
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1))
}
