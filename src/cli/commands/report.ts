/** `twoloop report [run-id]` and `twoloop compare <run-id>...`. */
import { Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { RunError } from "../../domain/errors.ts"
import { reportOf, writeReport } from "../../pipeline/report/write.ts"
import { Store } from "../../services/Store.ts"
import { configFlag, formatFlag, locateStore, printLine, storeFlag } from "../shared.ts"

const num = (value: number | null | undefined) => (value === null || value === undefined ? "–" : String(Number(value.toPrecision(5))))

export const reportCommand = Command.make(
  "report",
  {
    runId: Argument.String("run-id").pipe(Argument.withDescription("the run (default: the latest)"), Argument.optional),
    format: formatFlag,
    config: configFlag,
    store: storeFlag,
  },
  (flags) =>
    Effect.gen(function* () {
      const located = yield* locateStore(flags.config, flags.store)
      yield* Effect.gen(function* () {
        const store = yield* Store
        const runId = Option.isSome(flags.runId) ? flags.runId.value : (yield* store.runs.latestRun())?.id
        if (!runId) return yield* new RunError({ message: `no runs in ${located.file}` })
        if (flags.format === "json") {
          // Printed, not written: works where the run directory is read-only.
          const built = yield* reportOf(store, runId)
          if (!built) return yield* new RunError({ message: `no run ${runId} in ${located.file}` })
          const { innerStages: _inner, outerStages: _outer, ...contract } = built.report
          yield* printLine(JSON.stringify({ ...contract, stages: { inner: _inner, outer: _outer } }, null, 2))
        } else {
          const written = yield* writeReport(store, runId).pipe(
            Effect.catchDefect((defect) =>
              Effect.fail(new RunError({ message: `cannot write the report of run ${runId}: ${(defect as Error).message ?? String(defect)} (--format json prints it instead)` })),
            ),
          )
          if (!written) return yield* new RunError({ message: `no run ${runId} in ${located.file}` })
          yield* printLine(`report: ${written.markdownFile}`)
          for (const chart of written.charts) yield* printLine(`chart: ${chart}`)
        }
      }).pipe(Effect.provide(Store.layer(located.file, { readonlyIfUnwritable: true })))
    }),
).pipe(Command.withDescription("write the run's report (Markdown with progress charts) or print it as JSON"))

export const compareCommand = Command.make(
  "compare",
  {
    runIds: Argument.String("run-id").pipe(Argument.withDescription("runs to compare"), Argument.variadic({ min: 1 })),
    format: formatFlag,
    config: configFlag,
    store: storeFlag,
  },
  (flags) =>
    Effect.gen(function* () {
      const located = yield* locateStore(flags.config, flags.store)
      yield* Effect.gen(function* () {
        const store = yield* Store
        const reports = []
        for (const runId of flags.runIds) {
          const built = yield* reportOf(store, runId)
          if (!built) return yield* new RunError({ message: `no run ${runId} in ${located.file}` })
          reports.push(built.report)
        }
        if (flags.format === "json") {
          yield* printLine(JSON.stringify(reports.map(({ innerStages: _i, outerStages: _o, ...contract }) => contract), null, 2))
          return
        }
        yield* printLine("| run | name | status | outer gain | inner baseline | inner best | inner gain | arms | experiments | LLM cost |")
        yield* printLine("|---|---|---|---|---|---|---|---|---|---|")
        for (const r of reports) {
          const arms = Object.entries(r.arms).map(([arm, a]) => `${arm}: ${num(a.best)} (${a.experimentsToBest ?? "–"} exp.)`).join("; ")
          const experiments = r.innerStages.reduce((s, i) => s + i.experiments, 0)
          yield* printLine(
            `| ${r.runId} | ${r.name} | ${r.status} | ${num(r.outer?.gain)}${r.outer?.offline ? " (offline)" : ""} | ${num(r.inner?.baseline)} | ${num(r.inner?.best)} | ${num(r.inner?.gain)}${r.inner?.offline ? " (offline)" : ""} | ${arms} | ${experiments} | ${r.llm.costUsd === null ? "unknown" : `$${r.llm.costUsd.toFixed(4)}`} |`,
          )
        }
      }).pipe(Effect.provide(Store.layer(located.file, { readonlyIfUnwritable: true })))
    }),
).pipe(Command.withDescription("compare runs side by side (outer and inner gains, arms, cost)"))
