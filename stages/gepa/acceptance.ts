/**
 * The minibatch acceptance rule: a child is accepted iff the sum of its scores on the minibatch is
 * strictly greater than the parent's on the same minibatch. A missing side never counts as improvement.
 */

export const sumScores = (scores: ReadonlyArray<number>): number => {
  let total = 0
  for (const score of scores) total += score
  return total
}

export const isStrictImprovement = (before: ReadonlyArray<number> | undefined, after: ReadonlyArray<number> | undefined): boolean =>
  before !== undefined && after !== undefined && sumScores(after) > sumScores(before)
