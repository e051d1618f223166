/** `twoloop status [run-id]`: where a run stands, read from the store. */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { RunError } from "../../domain/errors.ts"
import { innerSummaryOf, outerSummaryOf, roleOf } from "../../pipeline/StageKind.ts"
import { Store } from "../../services/Store.ts"
import { configFlag, locateStore, printLine, storeFlag } from "../shared.ts"

const show = (value: unknown) => (typeof value === "number" ? String(Number(value.toPrecision(5))) : value === null || value === undefined ? "-" : String(value))

const elapsed = (from: string, to: string | null) => {
  const seconds = Math.max(0, Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000))
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`
}

export const statusCommand = Command.make(
  "status",
  {
    runId: Argument.String("run-id").pipe(Argument.withDescription("the run (default: the latest)"), Argument.optional),
    config: configFlag,
    store: storeFlag,
    events: Flag.Int("events").pipe(Flag.withDescription("how many recent events to show"), Flag.withDefault(8)),
  },
  (flags) =>
    Effect.gen(function* () {
      const located = yield* locateStore(flags.config, flags.store)
      yield* Effect.gen(function* () {
        const store = yield* Store
        const run = Option.isSome(flags.runId) ? yield* store.runs.getRun(flags.runId.value) : yield* store.runs.latestRun()
        if (!run) return yield* new RunError({ message: Option.isSome(flags.runId) ? `no run ${flags.runId.value} in ${located.file}` : `no runs in ${located.file}` })
        const lock = yield* store.use((db) => db.prepare("SELECT lock_owner, lock_heartbeat FROM runs WHERE id = ?").get(run.id) as { lock_owner: string | null; lock_heartbeat: number | null })
        const live = lock.lock_owner && lock.lock_heartbeat && Date.now() - lock.lock_heartbeat < 30_000 ? ` (held by ${lock.lock_owner})` : ""
        yield* printLine(`run ${run.id} (${run.name}): ${run.status}${live}, ${elapsed(run.startedAt, run.endedAt)}${run.error ? ` — ${run.error}` : ""}`)
        yield* printLine(`  target ${run.targetDir}${run.targetCommit ? ` @ ${run.targetCommit.slice(0, 7)}${run.targetDirty ? " (+uncommitted changes)" : ""}` : ""}; run directory ${run.runDir}`)
        for (const stage of yield* store.runs.listStages(run.id)) {
          const arm = stage.arm === "hybrid" ? "" : `[${stage.arm}] `
          yield* printLine(`  ${arm}${stage.name} (${stage.kind}): ${stage.status}${stage.error ? ` — ${stage.error}` : ""}`)
          const counts = yield* store.experiments.statusCounts({ stageId: stage.id })
          const total = Object.values(counts).reduce((a, b) => a + b, 0)
          if (total > 0) {
            const order = ["keep", "discard", "crash", "timeout", "rejected", "measured", "running", "planned"]
            yield* printLine(`    experiments ${total}: ${order.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ")}`)
          }
          const inner = roleOf(stage.kind) === "inner" ? innerSummaryOf(stage) : null
          const outer = roleOf(stage.kind) === "outer" ? outerSummaryOf(stage) : null
          if (inner) yield* printLine(`    ${inner.metric}: baseline ${show(inner.baseline)}, best ${show(inner.best)}, gain ${show(inner.gain)}, noise σ ${show(inner.noiseSigma)}${inner.offline ? " [offline proposer]" : ""}`)
          if (outer) yield* printLine(`    score: seed ${show(outer.seedScore)}, best ${show(outer.bestScore)}, ${outer.candidates} candidates, ${outer.metricCalls} metric calls${outer.offline ? " [offline reflector]" : ""}`)
        }
        const llm = yield* store.llmCalls.llmTotals({ runId: run.id })
        if (llm.calls > 0) yield* printLine(`  llm: ${llm.calls} calls, ${llm.inputTokens} in / ${llm.outputTokens} out tokens, cost ${llm.costUsd === null ? "unknown (unpriced model)" : `$${llm.costUsd.toFixed(4)}`}`)
        const events = yield* store.use((db) =>
          (db.prepare("SELECT message, created_at FROM events WHERE run_id = ? ORDER BY id DESC LIMIT ?").all(run.id, flags.events) as Array<{ message: string; created_at: string }>).reverse(),
        )
        if (events.length > 0) {
          yield* printLine("  recent:")
          for (const event of events) yield* printLine(`    ${event.created_at.slice(11, 19)} ${event.message}`)
        }
      }).pipe(Effect.provide(Store.layer(located.file, { readonlyIfUnwritable: true })))
    }),
).pipe(Command.withDescription("show the progress of the latest run (or of run-id)"))
