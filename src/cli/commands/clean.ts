/** `twoloop clean [run-id…] [--failed] [--all] [--dry-run]`: removes what finished runs left on disk and in git. */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import { cleanRuns } from "../../pipeline/clean.ts"
import { Store } from "../../services/Store.ts"
import { Workspace } from "../../services/Workspace.ts"
import { configFlag, locateStore, printLine, storeFlag } from "../shared.ts"

const shown = (file: string) => path.relative(process.cwd(), file) || file

export const cleanCommand = Command.make(
  "clean",
  {
    runIds: Argument.String("run-id").pipe(Argument.withDescription("runs to clean (default: every completed or failed run)"), Argument.variadic()),
    failed: Flag.Boolean("failed").pipe(Flag.withDescription("only failed runs"), Flag.withDefault(false)),
    all: Flag.Boolean("all").pipe(Flag.withDescription("also delete each run's best branch"), Flag.withDefault(false)),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("say what would be removed, remove nothing"), Flag.withDefault(false)),
    config: configFlag,
    store: storeFlag,
  },
  (flags) =>
    Effect.gen(function* () {
      const located = yield* locateStore(flags.config, flags.store)
      const cleaned = yield* cleanRuns({ runIds: flags.runIds, failed: flags.failed, all: flags.all, dryRun: flags.dryRun }).pipe(
        Effect.provide(Store.layer(located.file)),
        Effect.provide(Workspace.layer),
      )
      if (cleaned.length === 0) return yield* printLine(`nothing to clean in ${located.file}${flags.failed ? " (no failed runs)" : " (no completed or failed runs)"}`)
      const verb = flags.dryRun ? "would remove" : "removed"
      for (const run of cleaned) {
        if (run.skipped) {
          yield* printLine(`run ${run.runId} (${run.status}): skipped, ${run.skipped}`)
          continue
        }
        const kept = run.kept.length > 0 ? `; kept ${run.kept.join(", ")}${run.keptRepository ? ` (in ${shown(run.keptRepository)})` : ""}` : ""
        if (run.worktrees.length + run.branches.length + run.removed.length === 0) {
          yield* printLine(`run ${run.runId} (${run.status}): nothing left to remove${kept}`)
          continue
        }
        const directory = run.keptRepository ? `the run directory but ${shown(run.keptRepository)}` : run.removed.length > 0 ? shown(run.removed[0]!) : undefined
        const parts = [`${run.worktrees.length} worktree${run.worktrees.length === 1 ? "" : "s"}`, `${run.branches.length} branch${run.branches.length === 1 ? "" : "es"}`, ...(directory ? [directory] : [])]
        yield* printLine(`run ${run.runId} (${run.status}): ${verb} ${parts.join(", ")}${kept}`)
      }
    }),
).pipe(Command.withDescription("remove the worktrees, run directories and branches of finished runs (each run's best branch stays unless --all)"))
