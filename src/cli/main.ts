/**
 * The command line: the command tree, and running it with errors rendered at the edge — a user-facing
 * error (or a damaged store found mid-command) prints one line and exits 1; any other defect prints its
 * stack; an interrupted run exits 130.
 */
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { isUserFacingError } from "../domain/errors.ts"
import { packageVersion } from "../packageRoot.ts"
import { cleanCommand } from "./commands/clean.ts"
import { dashboardCommand } from "./commands/dashboard.ts"
import { doctorCommand } from "./commands/doctor.ts"
import { promptsCommand } from "./commands/prompts.ts"
import { compareCommand, reportCommand } from "./commands/report.ts"
import { resumeCommand, runCommand } from "./commands/run.ts"
import { statusCommand } from "./commands/status.ts"

export const rootCommand = Command.make("twoloop").pipe(
  Command.withDescription("staged automated ML research: GEPA evolves the research agent's instructions and directions, a code-search loop runs real experiments"),
  Command.withSubcommands([runCommand, resumeCommand, statusCommand, reportCommand, compareCommand, cleanCommand, dashboardCommand, promptsCommand, doctorCommand]),
)

/** Renders how the program ended and returns the process exit code. */
export const renderExit = (exit: Exit.Exit<unknown, unknown>, write: (text: string) => void = (text) => process.stderr.write(text)): number => {
  if (Exit.isSuccess(exit)) return 0
  const cause = exit.cause
  const failure = cause.reasons.find((r) => r._tag === "Fail")
  if (failure && "error" in failure) {
    const error = failure.error as { _tag?: string; message?: string }
    if (isUserFacingError(error)) {
      // One line per problem (a config error lists every problem it found).
      for (const line of error.message.split("\n")) write(`twoloop: ${line}\n`)
      return 1
    }
    if (error?._tag === "ShowHelp") {
      // Help was printed; when it was shown because the command line was wrong, say what was wrong.
      const problems = ((error as { errors?: ReadonlyArray<{ message?: string }> }).errors ?? []).map((e) => e.message ?? String(e))
      for (const problem of problems) write(`twoloop: ${problem}\n`)
      return problems.length > 0 ? 2 : 0
    }
    if (typeof error?._tag === "string") {
      write(`twoloop: ${error.message ?? error._tag}\n`)
      return 2
    }
  }
  const damaged = cause.reasons.find((r) => r._tag === "Die" && (r.defect as { _tag?: unknown } | null)?._tag === "StoreDamaged")
  if (damaged && "defect" in damaged) {
    write(`twoloop: ${(damaged.defect as Error).message}\n`)
    return 1
  }
  if (Cause.hasInterruptsOnly(cause)) {
    write("twoloop: interrupted; `twoloop status` shows the run and `twoloop resume <run-id>` continues it\n")
    return 130
  }
  write(`twoloop: internal error\n${Cause.pretty(cause)}\n`)
  return 70
}

/**
 * Output piped into a reader that stops early (`twoloop status | head -1`) must end quietly: once a
 * write fails with EPIPE, further writes to that stream are dropped and the command finishes normally.
 */
export const quietOnBrokenPipe = (stream: NodeJS.WriteStream) => {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error
    stream.write = (() => true) as typeof stream.write
  })
}

export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  quietOnBrokenPipe(process.stdout)
  quietOnBrokenPipe(process.stderr)
  const program = Command.runWith(rootCommand, { version: packageVersion(), renderErrors: false })(argv).pipe(Effect.provide(NodeServices.layer))
  const exit = await Effect.runPromiseExit(program)
  return renderExit(exit)
}
