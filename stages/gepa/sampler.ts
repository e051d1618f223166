/**
 * The epoch-shuffled, padded minibatch sampler. Each epoch shuffles all train ids with the run's RNG and
 * pads the list to a multiple of the minibatch size: each padding slot takes the id placed least often in
 * this epoch's list so far (counts start afresh every epoch, as in the reference), ties going to the id
 * that came last in the shuffled order. Iteration i takes the slice at offset i·b; the list is rebuilt when
 * the epoch advances or the dataset size changes. The state is plain JSON so it can be checkpointed.
 */
import type { Rng } from "../../src/common/rng.ts"

export const defaultMinibatchSize = 3

export interface SamplerState {
  /** -1 before the first draw. */
  readonly epoch: number
  /** This epoch's shuffled ids followed by the padding. */
  readonly order: ReadonlyArray<string>
  /** Train-set size the order was built for. */
  readonly datasetSize: number
}

export const initialSamplerState: SamplerState = { epoch: -1, order: [], datasetSize: 0 }

/** One epoch's list: the shuffled ids, then the padding up to a multiple of `size`. */
export const epochOrder = (shuffled: ReadonlyArray<string>, size: number): Array<string> => {
  const frequency = new Map(shuffled.map((id) => [id, 1]))
  const padding = (size - (shuffled.length % size)) % size
  const order = [...shuffled]
  for (let slot = 0; slot < padding; slot++) {
    let chosen = shuffled[shuffled.length - 1]!
    for (let position = shuffled.length - 1; position >= 0; position--) {
      const id = shuffled[position]!
      if (frequency.get(id)! < frequency.get(chosen)!) chosen = id
    }
    order.push(chosen)
    frequency.set(chosen, frequency.get(chosen)! + 1)
  }
  return order
}

/**
 * The minibatch of (0-based) iteration `iteration` over `ids`, and the sampler state after drawing it.
 * Consumes the RNG only when the order is rebuilt.
 */
export const nextMinibatch = (
  state: SamplerState,
  ids: ReadonlyArray<string>,
  iteration: number,
  size: number,
  rng: Rng,
): { readonly ids: Array<string>; readonly state: SamplerState } => {
  if (ids.length === 0) throw new Error("nextMinibatch: the train set is empty")
  const offset = iteration * size
  const epoch = state.epoch === -1 ? 0 : Math.floor(offset / Math.max(state.order.length, 1))
  let next = state
  if (state.order.length === 0 || ids.length !== state.datasetSize || epoch > state.epoch)
    next = { epoch, order: epochOrder(rng.shuffle(ids), size), datasetSize: ids.length }
  const start = offset % next.order.length
  return { ids: next.order.slice(start, start + size), state: next }
}
