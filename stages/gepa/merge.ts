/**
 * System-aware merge (crossover): choosing two Pareto survivors with a common ancestor worth merging,
 * building the merged child component by component (in seed key order), and the stratified validation
 * subsample its gate is scored on. Pure; randomness comes from the run's RNG. The search follows the
 * reference: up to 10 rounds of up to 10 pair draws each, a merge whose sources were merged before or
 * whose descendants share fewer than 5 validation ids passed over.
 */
import type { Rng } from "../../src/common/rng.ts"
import type { Components } from "./candidate.ts"

export interface MergeView {
  readonly components: Components
  readonly parents: ReadonlyArray<number>
  readonly mean: number
}

export interface MergeTriplet {
  /** The lower index of the two descendants. */
  readonly first: number
  readonly second: number
  readonly ancestor: number
}

/** Pair draws per search round, and rounds per merge attempt (the reference: 10 × 10). */
export const mergePairDraws = 10
export const mergeSearchRounds = 10
export const mergeGateSize = 5
/** Validation ids the two descendants must share (the reference's overlap floor). */
export const defaultMergeOverlapFloor = 5

export const tripletKey = (triplet: MergeTriplet): string => `${triplet.first}/${triplet.second}/${triplet.ancestor}`

/** All ancestors of a candidate (parents, their parents, ...), excluding itself. */
export const ancestorsOf = (pool: ReadonlyArray<MergeView>, index: number): Set<number> => {
  const found = new Set<number>()
  const pending = [...pool[index]!.parents]
  while (pending.length > 0) {
    const next = pending.pop()!
    if (found.has(next)) continue
    found.add(next)
    pending.push(...pool[next]!.parents)
  }
  return found
}

/** Some component equals the ancestor's in one descendant and differs between the two descendants. */
export const hasDesirableComponent = (ancestor: Components, first: Components, second: Components): boolean =>
  ancestor.some(([, text], position) => {
    const a = first[position]![1]
    const b = second[position]![1]
    return (text === a || text === b) && a !== b
  })

/** Common ancestors of two candidates that qualify for merging them (in ascending index order). */
export const eligibleAncestors = (pool: ReadonlyArray<MergeView>, first: number, second: number): Array<number> => {
  const ofFirst = ancestorsOf(pool, first)
  const ofSecond = ancestorsOf(pool, second)
  if (ofFirst.has(second) || ofSecond.has(first)) return []
  return [...ofFirst]
    .filter((ancestor) => ofSecond.has(ancestor))
    .filter((ancestor) => pool[ancestor]!.mean <= pool[first]!.mean && pool[ancestor]!.mean <= pool[second]!.mean)
    .filter((ancestor) => hasDesirableComponent(pool[ancestor]!.components, pool[first]!.components, pool[second]!.components))
    .sort((a, b) => a - b)
}

const weightedPick = (items: ReadonlyArray<number>, weights: ReadonlyArray<number>, rng: Rng): number => {
  const total = weights.reduce((sum, weight) => sum + Math.max(weight, 0), 0)
  if (!(total > 0)) return rng.pick(items)
  let ticket = rng.next() * total
  for (let index = 0; index < items.length; index++) {
    ticket -= Math.max(weights[index]!, 0)
    if (ticket < 0) return items[index]!
  }
  return items[items.length - 1]!
}

/**
 * Draws up to `attempts` random pairs of survivors and returns the first merge not tried before: neither
 * descendant an ancestor of the other, a common ancestor no better than either (picked weighted by mean).
 */
export const findMergeTriplet = (
  pool: ReadonlyArray<MergeView>,
  survivors: ReadonlyArray<number>,
  tried: ReadonlySet<string>,
  rng: Rng,
  attempts = mergePairDraws,
): MergeTriplet | undefined => {
  if (survivors.length < 2) return undefined
  for (let attempt = 0; attempt < attempts; attempt++) {
    const a = rng.pick(survivors)
    const b = rng.pick(survivors.filter((candidate) => candidate !== a))
    const [first, second] = a < b ? [a, b] : [b, a]
    const ancestors = eligibleAncestors(pool, first, second).filter((ancestor) => !tried.has(tripletKey({ first, second, ancestor })))
    if (ancestors.length === 0) continue
    const ancestor = weightedPick(ancestors, ancestors.map((index) => pool[index]!.mean), rng)
    return { first, second, ancestor }
  }
  return undefined
}

/**
 * The merged child: per component, the changed text when only one descendant changed it, the
 * higher-mean descendant's text when both changed it differently (a tie is decided by the RNG).
 */
export const constructMerge = (pool: ReadonlyArray<MergeView>, triplet: MergeTriplet, rng: Rng): Components => {
  const ancestor = pool[triplet.ancestor]!
  const first = pool[triplet.first]!
  const second = pool[triplet.second]!
  return ancestor.components.map(([name, original], position) => {
    const a = first.components[position]![1]
    const b = second.components[position]![1]
    if (a === b) return [name, a] as const
    if (original === a) return [name, b] as const
    if (original === b) return [name, a] as const
    if (first.mean !== second.mean) return [name, first.mean > second.mean ? a : b] as const
    return [name, rng.next() < 0.5 ? a : b] as const
  })
}

/** For each component, the descendant whose text the merged child took (the first when both agree). */
export const mergeSources = (pool: ReadonlyArray<MergeView>, triplet: MergeTriplet, components: Components): Array<number> =>
  components.map(([, text], position) =>
    pool[triplet.first]!.components[position]![1] === text ? triplet.first : triplet.second,
  )

/** The key under which a merge's sources are remembered, so the same combination is not built twice. */
export const sourcesKey = (triplet: MergeTriplet, sources: ReadonlyArray<number>): string => `${triplet.first}/${triplet.second}:${sources.join(",")}`

export interface MergePlan {
  readonly triplet: MergeTriplet
  readonly components: Components
  readonly sources: ReadonlyArray<number>
}

export interface MergeSearch {
  /** How many validation ids both candidates have scores on. */
  readonly sharedValidation: (first: number, second: number) => number
  readonly overlapFloor?: number
  readonly rounds?: number
  readonly draws?: number
}

const sameComponents = (a: Components, b: Components) => a.every(([, text], position) => b[position]![1] === text)

/**
 * The next merge to try: up to `rounds` rounds, each drawing up to `draws` pairs for an eligible triplet
 * (`findMergeTriplet`) and building its child. A round's merge is passed over, and the next round draws
 * again, when its sources were merged before (`tried` holds `sourcesKey`s too), when the child equals one
 * of the descendants, or when the descendants share fewer than `overlapFloor` validation ids.
 */
export const findMerge = (
  pool: ReadonlyArray<MergeView>,
  survivors: ReadonlyArray<number>,
  tried: ReadonlySet<string>,
  rng: Rng,
  search: MergeSearch,
): MergePlan | undefined => {
  if (survivors.length < 2 || pool.length < 3) return undefined
  for (let round = 0; round < (search.rounds ?? mergeSearchRounds); round++) {
    const triplet = findMergeTriplet(pool, survivors, tried, rng, search.draws ?? mergePairDraws)
    if (triplet === undefined) continue
    const components = constructMerge(pool, triplet, rng)
    const sources = mergeSources(pool, triplet, components)
    if (tried.has(sourcesKey(triplet, sources))) continue
    if (sameComponents(components, pool[triplet.first]!.components) || sameComponents(components, pool[triplet.second]!.components)) continue
    if (search.sharedValidation(triplet.first, triplet.second) < (search.overlapFloor ?? defaultMergeOverlapFloor)) continue
    return { triplet, components, sources }
  }
  return undefined
}

/**
 * Up to `size` validation ids both parents were scored on, stratified by which parent wins (first wins,
 * second wins, tie; up to ⌈size/3⌉ from each), topped up from the rest, then with repeats if too few.
 */
export const mergeGateIds = (
  firstScores: ReadonlyMap<string, number>,
  secondScores: ReadonlyMap<string, number>,
  validationIds: ReadonlyArray<string>,
  rng: Rng,
  size = mergeGateSize,
): Array<string> => {
  const common = validationIds.filter((id) => firstScores.has(id) && secondScores.has(id))
  if (common.length === 0) return []
  const firstWins = common.filter((id) => firstScores.get(id)! > secondScores.get(id)!)
  const secondWins = common.filter((id) => secondScores.get(id)! > firstScores.get(id)!)
  const ties = common.filter((id) => firstScores.get(id)! === secondScores.get(id)!)
  const perBucket = Math.max(1, Math.ceil(size / 3))
  const selected: Array<string> = []
  for (const bucket of [firstWins, secondWins, ties]) {
    if (selected.length >= size) break
    const take = Math.min(bucket.length, perBucket, size - selected.length)
    selected.push(...rng.shuffle(bucket).slice(0, take))
  }
  const unused = common.filter((id) => !selected.includes(id))
  const remaining = size - selected.length
  if (remaining > 0) {
    if (unused.length >= remaining) selected.push(...rng.shuffle(unused).slice(0, remaining))
    else for (let slot = 0; slot < remaining; slot++) selected.push(rng.pick(common))
  }
  return selected.slice(0, size)
}
