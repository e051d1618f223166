/**
 * A small seeded PRNG (xoshiro128**) whose whole state is four 32-bit integers, so it can be saved in the
 * store at a checkpoint and restored on resume to replay the exact same random choices.
 */

export type RngState = readonly [number, number, number, number]

export interface Rng {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** Fisher-Yates shuffle into a new array. */
  readonly shuffle: <A>(items: ReadonlyArray<A>) => Array<A>
  /** Picks one element (the array must be non-empty). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  readonly state: () => RngState
}

const splitmix32 = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x9e3779b9) >>> 0
    let z = a
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

export const seedState = (seed: number): RngState => {
  const next = splitmix32(seed)
  const state: [number, number, number, number] = [next(), next(), next(), next()]
  if (state.every((word) => word === 0)) state[0] = 1
  return state
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0

export const makeRng = (initial: RngState | number): Rng => {
  const s = typeof initial === "number" ? [...seedState(initial)] : [...initial]
  const nextUint32 = () => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0
    const t = (s[1]! << 9) >>> 0
    s[2] = (s[2]! ^ s[0]!) >>> 0
    s[3] = (s[3]! ^ s[1]!) >>> 0
    s[1] = (s[1]! ^ s[2]!) >>> 0
    s[0] = (s[0]! ^ s[3]!) >>> 0
    s[2] = (s[2]! ^ t) >>> 0
    s[3] = rotl(s[3]!, 11)
    return result
  }
  const next = () => nextUint32() / 4294967296
  const int = (n: number) => Math.floor(next() * n)
  return {
    next,
    int,
    shuffle: (items) => {
      const out = [...items]
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(i + 1)
        ;[out[i], out[j]] = [out[j]!, out[i]!]
      }
      return out
    },
    pick: (items) => items[int(items.length)]!,
    state: () => [s[0]!, s[1]!, s[2]!, s[3]!] as const,
  }
}
