/** Flags and plumbing shared by commands: locating the store, and stopping a run gracefully on signals. */
import { Effect, Fiber, Option } from "effect"
import { Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResolvedConfig } from "../config.ts"
import { RunError } from "../domain/errors.ts"
import { findConfigFile, loadConfig } from "../pipeline/loadConfig.ts"

export const configFlag = Flag.String("config").pipe(
  Flag.withAlias("c"),
  Flag.withDescription("the pipeline config file (default: pipeline.config.{ts,mts,mjs,js,json} in the current directory)"),
  Flag.optional,
)

export const storeFlag = Flag.String("store").pipe(Flag.withDescription("the SQLite store to read (default: the config's store)"), Flag.optional)

export const formatFlag = Flag.Literals("format", ["md", "json"]).pipe(Flag.withDescription("output format"), Flag.withDefault("md" as const))

export const loadConfigFlag = (config: Option.Option<string>) =>
  Effect.gen(function* () {
    const file = yield* findConfigFile(Option.getOrUndefined(config))
    return yield* loadConfig(file)
  })

/** The store a read command should open: `--store`, else the config's store. Never creates one. */
export const locateStore = (config: Option.Option<string>, store: Option.Option<string>) =>
  Effect.gen(function* () {
    let resolved: ResolvedConfig | undefined
    let file: string
    if (Option.isSome(store)) file = path.resolve(store.value)
    else {
      resolved = yield* loadConfigFlag(config)
      file = resolved.store
    }
    if (!fs.existsSync(file)) return yield* new RunError({ message: `no store at ${file}; run a pipeline first (twoloop run)` })
    return { file, config: resolved }
  })

/**
 * Runs `body` with SIGINT/SIGTERM handling: the first signal asks the run to stop after the experiments
 * that are running (they finish and are recorded); a second one interrupts them (killed, recorded as
 * interrupted, resumable).
 */
export const withGracefulStop = <A, E, R>(body: (shouldStop: Effect.Effect<boolean>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    let requested = false
    let signals = 0
    const fiber = yield* Effect.forkChild(body(Effect.sync(() => requested)))
    const onSignal = () => {
      signals += 1
      if (signals === 1) {
        requested = true
        process.stderr.write("\ntwoloop: stopping after the running experiments finish (press Ctrl-C again to stop them now)\n")
      } else {
        process.stderr.write("\ntwoloop: stopping now\n")
        Effect.runFork(Fiber.interrupt(fiber))
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
      }),
      () =>
        Effect.sync(() => {
          process.off("SIGINT", onSignal)
          process.off("SIGTERM", onSignal)
        }),
    )
    return yield* Fiber.join(fiber)
  }).pipe(Effect.scoped)

export const printLine = (line = "") => Effect.sync(() => process.stdout.write(`${line}\n`))
