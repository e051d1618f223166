/**
 * Progress of long work: each event is written to the run's event log in the store (what `twoloop status`
 * and the dashboard read) and printed as one line. Printing goes through `write` so tests can capture it.
 */
import { Context, Effect, Layer } from "effect"
import { Store } from "./Store.ts"

export interface ProgressEvent {
  readonly runId: string
  readonly stageId?: number | null
  /** noun-verb, e.g. `experiment-finished`, `candidate-accepted`. */
  readonly kind: string
  readonly message: string
  readonly data?: unknown
}

export interface ProgressShape {
  readonly emit: (event: ProgressEvent) => Effect.Effect<void>
  /** Prints without recording (headers, hints). */
  readonly say: (line: string) => Effect.Effect<void>
}

const formatElapsed = (ms: number) => {
  const seconds = Math.floor(ms / 1000)
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`
}

export const makeProgress = (write: (line: string) => void) =>
  Effect.gen(function* () {
    const store = yield* Store
    const started = Date.now()
    return Progress.of({
      emit: (event) =>
        Effect.gen(function* () {
          yield* store.runs.addEvent(event.runId, event.stageId ?? null, event.kind, event.message, event.data)
          write(`[${formatElapsed(Date.now() - started)}] ${event.message}`)
        }),
      say: (line) => Effect.sync(() => write(line)),
    })
  })

export class Progress extends Context.Service<Progress, ProgressShape>()("twoloop/Progress") {
  /** Records events and prints them to stdout. Requires Store. */
  static readonly layer = Layer.effect(Progress, makeProgress((line) => process.stdout.write(`${line}\n`)))
  /** Records events and hands printed lines to `write` (tests, quiet mode). Requires Store. */
  static readonly layerWith = (write: (line: string) => void) => Layer.effect(Progress, makeProgress(write))
}
