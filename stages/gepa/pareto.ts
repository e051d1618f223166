/**
 * Per-example Pareto fronts over validation scores and the parent selectors built on them. A front maps a
 * validation example id to the candidates reaching the best score seen on it (ties join, strictly better
 * replaces). Dominance pruning is set cover (not vector dominance), as in the reference.
 */

/** Example id → indices of the candidates reaching the best score on that example. */
export type Fronts = Record<string, Array<number>>

/** Adds one candidate's scores to fronts kept as id → { best score, members }; mutates `fronts`. */
export const addToFronts = (
  fronts: Map<string, { best: number; members: Array<number> }>,
  candidate: number,
  scores: ReadonlyMap<string, number>,
): void => {
  for (const [exampleId, score] of scores) {
    const front = fronts.get(exampleId)
    if (front === undefined || score > front.best) fronts.set(exampleId, { best: score, members: [candidate] })
    else if (score === front.best && !front.members.includes(candidate)) front.members.push(candidate)
  }
}

/** Fronts from per-candidate validation scores (index i = candidate i). */
export const buildFronts = (scores: ReadonlyArray<ReadonlyMap<string, number>>): Fronts => {
  const fronts = new Map<string, { best: number; members: Array<number> }>()
  scores.forEach((candidateScores, index) => addToFronts(fronts, index, candidateScores))
  return Object.fromEntries([...fronts].map(([exampleId, front]) => [exampleId, [...front.members]]))
}

/** Mean over the evaluated ids (0 when none were evaluated). */
export const meanScore = (scores: ReadonlyMap<string, number> | ReadonlyArray<number>): number => {
  const values = Array.isArray(scores) ? scores : [...(scores as ReadonlyMap<string, number>).values()]
  if (values.length === 0) return 0
  let total = 0
  for (const value of values) total += value
  return total / values.length
}

/**
 * Candidates on any front, in the order they first appear (fronts in their key order, members in front
 * order), then stably sorted ascending by mean: ties keep that first-appearance order, as in the reference.
 */
const pruningOrder = (fronts: Fronts, meanScores: ReadonlyArray<number>): Array<number> => {
  const seen = new Set<number>()
  for (const front of Object.values(fronts)) for (const candidate of front) seen.add(candidate)
  return [...seen].sort((a, b) => (meanScores[a] ?? 0) - (meanScores[b] ?? 0))
}

/**
 * Set-cover pruning: candidates on any front, ascending by mean score (ties in order of first appearance on
 * a front), are removed one at a time when every front containing them still holds another survivor; the
 * fronts are then filtered to the survivors. The reference restarts its scan after each removal; removals
 * only shrink fronts, so a candidate once found irremovable stays so, and one ascending pass gives the same
 * survivors.
 */
export const pruneDominated = (fronts: Fronts, meanScores: ReadonlyArray<number>): Fronts => {
  const membership = new Map<number, Array<string>>()
  const survivorsPerFront = new Map<string, number>()
  for (const [exampleId, front] of Object.entries(fronts)) {
    const unique = [...new Set(front)]
    survivorsPerFront.set(exampleId, unique.length)
    for (const candidate of unique) {
      const keys = membership.get(candidate)
      if (keys) keys.push(exampleId)
      else membership.set(candidate, [exampleId])
    }
  }
  const removed = new Set<number>()
  for (const candidate of pruningOrder(fronts, meanScores)) {
    const keys = membership.get(candidate)!
    if (!keys.every((exampleId) => survivorsPerFront.get(exampleId)! >= 2)) continue
    removed.add(candidate)
    for (const exampleId of keys) survivorsPerFront.set(exampleId, survivorsPerFront.get(exampleId)! - 1)
  }
  return Object.fromEntries(Object.entries(fronts).map(([exampleId, front]) => [exampleId, [...new Set(front)].filter((c) => !removed.has(c))]))
}

/** Candidates left on some front after pruning, ascending by index. */
export const frontSurvivors = (pruned: Fronts): Array<number> => [...new Set(Object.values(pruned).flat())].sort((a, b) => a - b)

/** How many (pruned) fronts each candidate is on, ascending by candidate index. */
const frontCounts = (pruned: Fronts): Array<readonly [number, number]> => {
  const counts = new Map<number, number>()
  for (const front of Object.values(pruned)) for (const candidate of front) counts.set(candidate, (counts.get(candidate) ?? 0) + 1)
  return [...counts].sort((a, b) => a[0] - b[0])
}

/**
 * Samples a parent with probability proportional to the number of pruned fronts it is on; with no candidate
 * on any front, the current best (as in the reference).
 */
export const selectParetoParent = (fronts: Fronts, meanScores: ReadonlyArray<number>, rng: () => number): number => {
  const counts = frontCounts(pruneDominated(fronts, meanScores))
  const total = counts.reduce((sum, [, count]) => sum + count, 0)
  if (total === 0) return selectCurrentBest(meanScores)
  let ticket = Math.floor(rng() * total)
  for (const [candidate, count] of counts) {
    if (ticket < count) return candidate
    ticket -= count
  }
  return counts[counts.length - 1]![0]
}

/** The highest mean score; the first index wins ties. */
export const selectCurrentBest = (meanScores: ReadonlyArray<number>): number => {
  let best = 0
  for (let index = 1; index < meanScores.length; index++) if (meanScores[index]! > meanScores[best]!) best = index
  return best
}

/** With probability `epsilon` a uniformly random candidate, otherwise the current best. */
export const selectEpsilonGreedy = (meanScores: ReadonlyArray<number>, epsilon: number, rng: () => number): number =>
  rng() < epsilon ? Math.min(Math.floor(rng() * meanScores.length), meanScores.length - 1) : selectCurrentBest(meanScores)
