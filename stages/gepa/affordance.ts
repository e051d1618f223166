/**
 * What a metric-call budget buys, said before the optimization starts: the seed's validation, then
 * iterations that each cost at most a minibatch for the parent, one for the child, and a full validation
 * of an accepted child (the worst case `budget.ts` reserves). Pure.
 */

export interface Affordance {
  readonly metricCalls: number
  readonly seedCost: number
  /** The most one reflective iteration can charge. */
  readonly iterationCost: number
  /** Iterations the budget pays for even if every one costs the most. */
  readonly iterations: number
  /** The smallest budget that pays for one iteration. */
  readonly needed: number
}

export const affordance = (metricCalls: number, sizes: { readonly train: number; readonly val: number }, minibatchSize: number): Affordance => {
  const minibatch = Math.min(minibatchSize, sizes.train)
  const seedCost = sizes.val
  const iterationCost = 2 * minibatch + sizes.val
  return { metricCalls, seedCost, iterationCost, iterations: Math.max(0, Math.floor((metricCalls - seedCost) / iterationCost)), needed: seedCost + iterationCost }
}

export const affordanceText = (a: Affordance): string =>
  a.iterations === 0
    ? `the metric-call budget ${a.metricCalls} cannot pay for the seed's validation (${a.seedCost} calls) and one iteration (up to ${a.iterationCost}); give at least ${a.needed}`
    : `the metric-call budget ${a.metricCalls} pays for the seed's validation (${a.seedCost} calls) and at least ${a.iterations} iteration${a.iterations === 1 ? "" : "s"} (each at most ${a.iterationCost}: parent and child on a minibatch, then validating an accepted child)`
