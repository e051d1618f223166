/**
 * Pre-flight checks: everything about a config that can be known before a run starts, found before the
 * run's row, branches or worktrees exist, so a failed start leaves nothing behind. The target's own checks
 * live here (editable and readonly files exist as regular files; each program the command runs exists,
 * with the target's environment; a Python or shell script it names exists); each stage kind adds its own
 * (budgets, what there is to search) through `StageKind.preflight`. Reads the config and the filesystem
 * only: no store, no git, no processes.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { expandParameters, simpleCommands } from "../common/shellWords.ts"
import { listProblems, type ResolvedConfig } from "../config.ts"
import { ConfigError } from "../domain/errors.ts"
import { getStageKind, type PreflightFinding } from "./StageKind.ts"

export interface PreflightReport {
  /** Each names its key path; any error refuses the run. */
  readonly errors: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

/** The environment the command runs with, for resolving its programs: ours, then the target's `env`. */
export const commandEnv = (config: Pick<ResolvedConfig, "target">, base: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> => ({
  ...base,
  ...config.target.env,
  TWOLOOP_TARGET_DIR: config.target.dir,
})

const shellWords = new Set([
  "cd", "export", "set", "unset", "source", ".", "true", "false", ":", "echo", "printf", "exit", "return", "test", "[", "[[", "if", "then", "else",
  "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "{", "}", "(", ")", "!", "eval", "read", "shift", "wait", "trap", "umask",
  "ulimit", "pwd", "alias", "local", "function", "declare", "readonly", "let", "type", "hash", "command", "builtin",
])

const wrappers = new Set(["env", "exec", "time", "nice", "nohup", "stdbuf", "timeout", "xargs"])

const isExecutable = (file: string) => {
  try {
    const stat = fs.statSync(file)
    if (!stat.isFile()) return false
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The file a program name runs: a path as it is, a bare name looked up on `PATH`; null when none exists. */
export const resolveProgram = (program: string, cwd: string, env: Readonly<Record<string, string | undefined>>): string | null => {
  if (program.includes("/")) {
    const file = path.resolve(cwd, program)
    return isExecutable(file) ? file : null
  }
  for (const dir of (env.PATH ?? "").split(":").filter((d) => d.length > 0)) {
    const file = path.join(path.resolve(cwd, dir), program)
    if (isExecutable(file)) return file
  }
  return null
}

export interface CommandProgram {
  /** The program as written (after expanding parameters). */
  readonly program: string
  /** Where it resolves, or null when it does not exist. */
  readonly resolved: string | null
  /** Its arguments, expanded where they can be (unexpandable ones as written). */
  readonly args: ReadonlyArray<string>
  /** True once an earlier simple command changed directory: relative paths are no longer known. */
  readonly afterCd: boolean
}

/**
 * The programs a command line runs, one per simple command, skipping shell builtins, variable assignments
 * and wrappers (`env`, `exec`, `time`, `nice`...). Programs whose name is only known at run time
 * (`$TWOLOOP_SEED`-style words without a value here, command substitution) are left out.
 */
export const commandPrograms = (command: string, cwd: string, env: Readonly<Record<string, string | undefined>>): Array<CommandProgram> => {
  const out: Array<CommandProgram> = []
  let afterCd = false
  for (const words of simpleCommands(command)) {
    let index = 0
    const scoped = { ...env }
    for (;;) {
      const word = words[index]
      if (word === undefined) break
      const assignment = /^([A-Za-z_]\w*)=(.*)$/.exec(word)
      if (assignment) {
        scoped[assignment[1]!] = expandParameters(assignment[2]!, scoped) ?? ""
        index++
        continue
      }
      if (wrappers.has(word)) {
        index++
        // Options of the wrapper, and the duration `timeout` takes, are not the program.
        while (words[index]?.startsWith("-")) index += /^-(n|o|e|i|k|s)$/.test(words[index]!) ? 2 : 1
        if (word === "timeout" && words[index] !== undefined) index++
        continue
      }
      break
    }
    const first = words[index]
    if (first === undefined) continue
    if (first === "cd" || first === "pushd") afterCd = true
    if (shellWords.has(first)) continue
    const program = expandParameters(first, scoped)
    if (program === undefined || program.length === 0) continue
    const args = words.slice(index + 1).map((word) => expandParameters(word, scoped) ?? word)
    out.push({ program, resolved: program.includes("/") && afterCd ? program : resolveProgram(program, cwd, scoped), args, afterCd })
  }
  return out
}

const interpreter = /^(python[\d.]*|pypy[\d.]*|bash|sh|zsh|node|Rscript|julia)$/

/** The script an interpreter runs (`python -u train.py` → train.py), when the command names one. */
export const scriptOf = (program: CommandProgram): string | undefined => {
  if (!interpreter.test(path.basename(program.program))) return undefined
  for (let i = 0; i < program.args.length; i++) {
    const arg = program.args[i]!
    if (arg === "-m" || arg === "-c" || arg === "-e" || arg === "--eval" || arg === "-") return undefined
    if (/^-[XW]$/.test(arg)) {
      i++
      continue
    }
    if (arg.startsWith("-")) continue
    return arg.includes("$") ? undefined : arg
  }
  return undefined
}

/** The target's own problems: missing files, programs that do not exist. */
export const targetFindings = (config: ResolvedConfig, env: Readonly<Record<string, string | undefined>> = commandEnv(config)): Array<PreflightFinding> => {
  const findings: Array<PreflightFinding> = []
  const { target } = config
  for (const [key, list] of [["target.editable", target.editable], ["target.readonly", target.readonly]] as const) {
    for (const [index, file] of list.entries()) {
      const stat = fs.lstatSync(path.join(target.dir, file), { throwIfNoEntry: false })
      if (!stat) findings.push({ level: "error", message: `${key}[${index}]: ${file} does not exist in ${target.dir}` })
      else if (stat.isSymbolicLink()) findings.push({ level: "error", message: `${key}[${index}]: ${file} is a symbolic link; editable and readonly files must be regular files` })
      else if (!stat.isFile()) findings.push({ level: "error", message: `${key}[${index}]: ${file} is not a regular file` })
    }
  }
  // On a cluster the command runs on other machines, with their PATH: nothing to check from here.
  if (config.executor.kind !== "local") return findings
  for (const program of commandPrograms(target.command, target.dir, env)) {
    if (program.resolved === null) {
      const where = program.program.includes("/") ? `does not exist (or is not executable) in ${target.dir}` : `is not on PATH${target.env.PATH !== undefined ? " (target.env.PATH)" : ""}`
      findings.push({ level: "error", message: `target.command: ${program.program} ${where}` })
      continue
    }
    const script = scriptOf(program)
    if (script !== undefined && !program.afterCd && !fs.existsSync(path.resolve(target.dir, script)))
      findings.push({ level: "error", message: `target.command: ${path.basename(program.program)} runs ${script}, which does not exist in ${target.dir}` })
  }
  return findings
}

/** Every pre-flight finding for the stages that will run (by name), deduplicated, in config order. */
export const preflightReport = (config: ResolvedConfig, stageNames: ReadonlyArray<string>): PreflightReport => {
  const findings: Array<PreflightFinding> = [...targetFindings(config)]
  for (const [index, entry] of config.stages.entries()) {
    if (!stageNames.includes(entry.name)) continue
    const kind = getStageKind(entry.kind)
    if (!kind?.preflight) continue
    findings.push(...kind.preflight({ config, options: entry.options as never, stageName: entry.name, at: `stages[${index}]` }))
  }
  const unique = (level: PreflightFinding["level"]) => [...new Set(findings.filter((f) => f.level === level).map((f) => f.message))]
  return { errors: unique("error"), warnings: unique("warning"), notes: unique("note") }
}

/** The pre-flight report, or a ConfigError listing every error (one line each, naming the config file and key). */
export const preflight = (config: ResolvedConfig, stageNames: ReadonlyArray<string>): Effect.Effect<PreflightReport, ConfigError> =>
  Effect.suspend(() => {
    const report = preflightReport(config, stageNames)
    return report.errors.length > 0 ? Effect.fail(new ConfigError({ message: listProblems(config.configFile, report.errors) })) : Effect.succeed(report)
  })
