/** `twoloop run` and `twoloop resume`. */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type Arm, decodeConfigSnapshot } from "../../config.ts"
import { ConfigError, RunError } from "../../domain/errors.ts"
import { servicesFor } from "../../pipeline/layers.ts"
import { preflight } from "../../pipeline/preflight.ts"
import { planArms, resumeRun, type RunSummary, startRun } from "../../pipeline/runPipeline.ts"
import { Store } from "../../services/Store.ts"
import { configFlag, loadConfigFlag, locateStore, printLine, storeFlag, withGracefulStop } from "../shared.ts"

const parseArms = (text: Option.Option<string>): Effect.Effect<ReadonlyArray<Arm> | undefined, ConfigError> => {
  if (Option.isNone(text)) return Effect.succeed(undefined)
  const arms = text.value.split(",").map((a) => a.trim()).filter((a) => a.length > 0)
  const bad = arms.find((a) => a !== "hybrid" && a !== "inner-only")
  if (bad !== undefined || arms.length === 0) return Effect.fail(new ConfigError({ message: `--arms: expected a comma-separated list of hybrid, inner-only; got ${JSON.stringify(text.value)}` }))
  return Effect.succeed([...new Set(arms)] as Array<Arm>)
}

export const printRunSummary = (summary: RunSummary) =>
  Effect.gen(function* () {
    yield* printLine()
    yield* printLine(`run ${summary.runId} ${summary.status}; run directory: ${summary.runDir}`)
    for (const stage of summary.stages) {
      const arm = stage.arm === "hybrid" ? "" : `[${stage.arm}] `
      const show = (value: number | null, digits: number) => (value === null ? "–" : String(Number(value.toPrecision(digits))))
      const { inner, outer } = stage
      const detail = inner
        ? `${inner.metric} ${show(inner.baseline, 5)} → ${show(inner.best, 5)} (gain ${show(inner.gain, 4)}), ${stage.kept}/${stage.experiments} kept${inner.offline ? ", offline proposer" : ""}`
        : outer
          ? `score ${show(outer.seedScore, 4)} → ${show(outer.bestScore, 4)} over ${outer.candidates} candidates${outer.offline ? ", offline reflector" : ""}`
          : ""
      yield* printLine(`  ${arm}${stage.name} (${stage.kind}): ${stage.status}${detail ? ` — ${detail}` : ""}`)
    }
    if (summary.reportFile) yield* printLine(`report: ${summary.reportFile}`)
    if (summary.status !== "completed") yield* printLine(`continue with: twoloop resume ${summary.runId}`)
  })

export const runCommand = Command.make(
  "run",
  {
    config: configFlag,
    stage: Flag.String("stage").pipe(Flag.withDescription("run only this stage (by name)"), Flag.optional),
    arms: Flag.String("arms").pipe(Flag.withDescription("arms to compare, e.g. hybrid,inner-only (default: the config's arms)"), Flag.optional),
    quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("print only the final summary"), Flag.withDefault(false)),
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfigFlag(flags.config)
      const arms = yield* parseArms(flags.arms)
      const options = { ...(arms ? { arms } : {}), ...(Option.isSome(flags.stage) ? { stage: flags.stage.value } : {}) }
      // Problems found before the store is even opened leave nothing behind (startRun checks again).
      const plan = planArms(config, options)
      if (plan) yield* preflight(config, [...new Set(plan.map((p) => p.name))])
      const summary = yield* withGracefulStop((shouldStop) =>
        startRun(config, { ...options, shouldStop }).pipe(
          Effect.provide(servicesFor(config, flags.quiet ? { write: () => {} } : {})),
        ),
      )
      yield* printRunSummary(summary)
    }),
).pipe(Command.withDescription("run the pipeline in the config (outer then inner stages)"))

export const resumeCommand = Command.make(
  "resume",
  { runId: Argument.String("run-id").pipe(Argument.withDescription("the run to continue (see twoloop status)")), config: configFlag, store: storeFlag },
  (flags) =>
    Effect.gen(function* () {
      const located = yield* locateStore(flags.config, flags.store)
      const snapshot = yield* Effect.gen(function* () {
        const store = yield* Store
        return yield* store.runs.getRun(flags.runId)
      }).pipe(Effect.provide(Store.layer(located.file)))
      if (!snapshot) return yield* new ConfigError({ message: `no run ${flags.runId} in ${located.file}` })
      const decoded = decodeConfigSnapshot(snapshot.configJson)
      if (!decoded.ok) return yield* new RunError({ message: `run ${flags.runId}: ${decoded.message}` })
      const config = decoded.config
      const summary = yield* withGracefulStop((shouldStop) => resumeRun(flags.runId, { shouldStop }).pipe(Effect.provide(servicesFor(config))))
      yield* printRunSummary(summary)
    }),
).pipe(Command.withDescription("continue an interrupted or failed run from its store"))

