/**
 * `setTimeout` for any delay. Node turns a delay above 2^31 − 1 ms (about 24.8 days) into 1 ms, so a long
 * delay is waited out in steps of at most that; a delay that is not a finite number never fires.
 */

const maxStepMs = 2 ** 31 - 1

export interface LongTimeout {
  readonly clear: () => void
}

export const setLongTimeout = (callback: () => void, delayMs: number): LongTimeout => {
  let timer: NodeJS.Timeout | undefined
  let cleared = false
  const deadline = performance.now() + delayMs
  const arm = () => {
    if (cleared) return
    const left = deadline - performance.now()
    timer = left > maxStepMs ? setTimeout(arm, maxStepMs) : setTimeout(callback, Math.max(0, left))
  }
  if (Number.isFinite(delayMs)) arm()
  return {
    clear: () => {
      cleared = true
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}
