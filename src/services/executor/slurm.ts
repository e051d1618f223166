/**
 * The SLURM executor: each experiment is one batch job. twoloop writes a small job script next to the
 * experiment's log (cd into the worktree, run the command, record its exit code in a file), submits it with
 * `sbatch --parsable`, follows it with `squeue` (no accounting database needed) and `scontrol` for how it
 * ended, and streams the job's output files into the experiment's bounded log while it runs.
 *
 * The job inherits the experiment environment (scrubbed of secrets, plus the budget variables and the
 * run/experiment marker) because sbatch itself is started with exactly that environment and `--export=ALL`;
 * CUDA_VISIBLE_DEVICES is left to SLURM's gres allocation. What the job prints reaches the log redacted. The hard limit counts from when the job starts running (queue time is not
 * experiment time): twoloop cancels the job there, and `--time` is set a little above it as a backstop.
 * Interrupting the calling fiber cancels the job and waits until squeue no longer lists it.
 */
import { Effect } from "effect"
import { execa } from "execa"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { EnvironmentFingerprint } from "../../domain/Experiment.ts"
import { scrubEnv, sealSecrets, secretValues, StreamRedactor } from "../../common/secrets.ts"
import type { ExecutorShape, ProcessEnding, RunSpec, Slot } from "../Executor.ts"
import { experimentEnvironment, sandboxArgs } from "../Executor.ts"
import { BoundedLog, LineSplitter } from "./boundedLog.ts"
import { fingerprintEnvironment } from "./fingerprint.ts"

export interface SlurmSettings {
  readonly partition?: string | undefined
  readonly gres?: string | undefined
  readonly cpusPerTask?: number | undefined
  readonly mem?: string | undefined
  readonly account?: string | undefined
  readonly qos?: string | undefined
  readonly extraArgs?: ReadonlyArray<string> | undefined
  readonly maxJobs?: number | undefined
  readonly pollSeconds?: number | undefined
  readonly sandbox: "none" | "bwrap"
}

// ---------------------------------------------------------------------------------------------- pure parts

/** Single-quotes a string for /bin/sh. */
export const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`

/** Whole minutes for `--time`: the hard limit plus the kill grace, plus a minute of slack, at least 1. */
export const timeLimitMinutes = (hardLimitSeconds: number, graceSeconds: number) => Math.max(1, Math.ceil((hardLimitSeconds + graceSeconds) / 60) + 1)

export interface JobFiles {
  readonly script: string
  readonly stdout: string
  readonly stderr: string
  readonly exit: string
}

/** The job's files live next to the experiment's log (on the shared filesystem). */
export const jobFiles = (logPath: string): JobFiles => {
  const base = logPath.replace(/\.log$/, "")
  return { script: `${base}.sbatch`, stdout: `${base}.stdout`, stderr: `${base}.stderr`, exit: `${base}.exit` }
}

export const jobScript = (spec: Pick<RunSpec, "experimentId" | "cwd" | "command" | "readonlyPaths">, files: JobFiles, sandbox: "none" | "bwrap") => {
  const run = sandbox === "bwrap" ? ["bwrap", ...sandboxArgs(spec.command, spec.cwd, spec.readonlyPaths)].map(shellQuote).join(" ") : `/bin/sh -c ${shellQuote(spec.command)}`
  return [
    "#!/bin/sh",
    `# twoloop experiment #${spec.experimentId}: generated, do not edit.`,
    `cd ${shellQuote(spec.cwd)} || exit 97`,
    run,
    "code=$?",
    `printf '%s\\n' "$code" > ${shellQuote(`${files.exit}.part`)} && mv ${shellQuote(`${files.exit}.part`)} ${shellQuote(files.exit)}`,
    'exit "$code"',
    "",
  ].join("\n")
}

export const sbatchArgs = (settings: SlurmSettings, spec: Pick<RunSpec, "experimentId" | "cwd" | "hardLimitSeconds" | "killGraceSeconds">, files: JobFiles): Array<string> => [
  "--parsable",
  `--job-name=twoloop-${spec.experimentId}`,
  `--chdir=${spec.cwd}`,
  `--output=${files.stdout}`,
  `--error=${files.stderr}`,
  `--time=${timeLimitMinutes(spec.hardLimitSeconds, spec.killGraceSeconds ?? 5)}`,
  "--export=ALL",
  "--ntasks=1",
  ...(settings.partition ? [`--partition=${settings.partition}`] : []),
  ...(settings.gres ? [`--gres=${settings.gres}`] : []),
  ...(settings.cpusPerTask ? [`--cpus-per-task=${settings.cpusPerTask}`] : []),
  ...(settings.mem ? [`--mem=${settings.mem}`] : []),
  ...(settings.account ? [`--account=${settings.account}`] : []),
  ...(settings.qos ? [`--qos=${settings.qos}`] : []),
  ...(settings.extraArgs ?? []),
  files.script,
]

/** `sbatch --parsable` prints `jobid` or `jobid;cluster`. */
export const parseJobId = (stdout: string): string | undefined => /^(\d+)(?:;\S+)?\s*$/.exec(stdout.trim())?.[1]

/** Key=value pairs of `scontrol show job -o`. */
export const parseScontrol = (line: string): Record<string, string> => {
  const fields: Record<string, string> = {}
  for (const match of line.matchAll(/(\w+)=(\S*)/g)) fields[match[1]!] ??= match[2]!
  return fields
}

const activeStates = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"])

export const isActiveState = (state: string) => activeStates.has(state)

export interface JobOutcome {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly failure: string | null
}

/**
 * How a job ended, from the exit-code file its script writes (authoritative when present) or else the
 * controller's record. `cancelledForTimeout` says twoloop itself cancelled the job at the hard limit.
 */
export const jobOutcome = (jobId: string, exitFile: string | undefined, record: Record<string, string> | undefined, cancelledForTimeout: boolean): JobOutcome => {
  if (exitFile !== undefined && /^\d+\s*$/.test(exitFile)) {
    const code = Number(exitFile.trim())
    return { exitCode: code, signal: null, timedOut: false, failure: null }
  }
  if (cancelledForTimeout) return { exitCode: null, signal: "SIGTERM", timedOut: true, failure: null }
  if (!record) return { exitCode: null, signal: null, timedOut: false, failure: `SLURM job ${jobId} was lost (squeue and scontrol no longer know it, and it left no exit code)` }
  const state = (record.JobState ?? "UNKNOWN").split(/[+ ]/)[0]!
  const [code, signal] = (record.ExitCode ?? "").split(":").map(Number)
  switch (state) {
    case "COMPLETED":
    case "FAILED":
      return { exitCode: code ?? null, signal: signal ? `signal ${signal}` : null, timedOut: false, failure: null }
    case "TIMEOUT":
    case "DEADLINE":
      return { exitCode: null, signal: null, timedOut: true, failure: null }
    case "CANCELLED":
      return { exitCode: null, signal: "SIGTERM", timedOut: false, failure: `SLURM job ${jobId} was cancelled outside twoloop` }
    default:
      return { exitCode: null, signal: null, timedOut: false, failure: `SLURM job ${jobId} ended ${state}${record.Reason && record.Reason !== "None" ? ` (${record.Reason})` : ""}` }
  }
}

// ---------------------------------------------------------------------------------------------- commands

const slurmEnv = () => scrubEnv(process.env)

const run = (command: string, args: ReadonlyArray<string>, options: { env?: Record<string, string> } = {}) =>
  execa(command, args, { env: options.env ?? slurmEnv(), extendEnv: false, reject: false, timeout: 60_000, stdin: "ignore" })

type QueueState = { readonly kind: "active"; readonly state: string } | { readonly kind: "gone" } | { readonly kind: "unreachable"; readonly message: string }

const queueState = async (jobId: string): Promise<QueueState> => {
  const result = await run("squeue", ["-h", "-j", jobId, "-o", "%T"])
  if (result.exitCode === 0) {
    const state = String(result.stdout).trim().split("\n")[0]?.trim() ?? ""
    return state && isActiveState(state) ? { kind: "active", state } : { kind: "gone" }
  }
  if (/invalid job id/i.test(String(result.stderr))) return { kind: "gone" }
  return { kind: "unreachable", message: String(result.stderr).trim() || String(result.shortMessage) }
}

const controllerRecord = async (jobId: string): Promise<Record<string, string> | undefined> => {
  const result = await run("scontrol", ["show", "job", "-o", jobId])
  return result.exitCode === 0 && String(result.stdout).includes("JobId=") ? parseScontrol(String(result.stdout)) : undefined
}

const cancel = (jobId: string) => run("scancel", [jobId])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Reads what a growing file gained since the last call. */
class FileFollower {
  private offset = 0
  constructor(private readonly file: string, private readonly onChunk: (chunk: Buffer) => void) {}

  poll(): void {
    let fd: number
    try {
      fd = fs.openSync(this.file, "r")
    } catch {
      return
    }
    try {
      const buffer = Buffer.alloc(1 << 20)
      for (;;) {
        const read = fs.readSync(fd, buffer, 0, buffer.length, this.offset)
        if (read <= 0) break
        this.offset += read
        this.onChunk(buffer.subarray(0, read))
      }
    } finally {
      fs.closeSync(fd)
    }
  }
}

interface Following {
  readonly ended: Promise<ProcessEnding>
  /** Cancels the job if it is still active and resolves once it has ended. */
  readonly stop: () => Promise<void>
}

/** Follows a submitted job to its end, streaming its output into the experiment log. */
const follow = (jobId: string, spec: RunSpec, files: JobFiles, pollMs: number): Following => {
  const log = new BoundedLog(spec.logPath)
  const lines = new LineSplitter((line) => spec.onStdoutLine?.(line))
  const secrets = secretValues()
  const stdoutRedactor = new StreamRedactor(secrets)
  const stderrRedactor = new StreamRedactor(secrets)
  const stdout = new FileFollower(files.stdout, (chunk) => {
    const safe = stdoutRedactor.push(chunk)
    log.write(safe)
    lines.push(safe)
  })
  const stderr = new FileFollower(files.stderr, (chunk) => log.write(stderrRedactor.push(chunk)))
  const flushRedactors = () => {
    const rest = stdoutRedactor.end()
    log.write(rest)
    lines.push(rest)
    log.write(stderrRedactor.end())
  }
  const graceMs = (spec.killGraceSeconds ?? 5) * 1000
  let runningSince: number | null = null
  let cancelledForTimeout = false
  let stopping = false
  let done = false
  const submitted = performance.now()

  const ended = (async (): Promise<ProcessEnding> => {
    let unreachableSince: number | null = null
    for (;;) {
      const state = await queueState(jobId)
      stdout.poll()
      stderr.poll()
      if (state.kind === "gone") break
      if (state.kind === "unreachable") {
        unreachableSince ??= performance.now()
        if (performance.now() - unreachableSince > spec.hardLimitSeconds * 1000 + graceMs + 120_000) {
          done = true
          flushRedactors()
          lines.end()
          log.close()
          return { exitCode: null, signal: null, timedOut: false, seconds: (performance.now() - submitted) / 1000, peakMemoryMb: null, logTail: log.tailText(), failure: `lost contact with the SLURM controller for job ${jobId}: ${state.message}`, outputBytes: log.totalBytes }
        }
      } else {
        unreachableSince = null
        if (state.state === "RUNNING" || state.state === "COMPLETING") runningSince ??= performance.now()
        if (!cancelledForTimeout && !stopping && runningSince !== null && performance.now() - runningSince > spec.hardLimitSeconds * 1000) {
          cancelledForTimeout = true
          await cancel(jobId)
        }
      }
      await sleep(pollMs)
    }
    // The job is gone from the queue; its output files may still be settling on a shared filesystem.
    const exitText = await readWhenPresent(files.exit, 2_000)
    stdout.poll()
    stderr.poll()
    flushRedactors()
    lines.end()
    log.close()
    const outcome = jobOutcome(jobId, exitText, exitText === undefined ? await controllerRecord(jobId) : undefined, cancelledForTimeout)
    done = true
    return {
      ...outcome,
      seconds: (performance.now() - (runningSince ?? submitted)) / 1000,
      peakMemoryMb: null,
      logTail: log.tailText(),
      outputBytes: log.totalBytes,
    }
  })()

  const stop = async () => {
    if (!done) {
      stopping = true
      await cancel(jobId)
    }
    await ended
    for (const file of [files.stdout, files.stderr]) fs.rmSync(file, { force: true })
  }
  return { ended, stop }
}

const readWhenPresent = async (file: string, waitMs: number): Promise<string | undefined> => {
  const deadline = performance.now() + waitMs
  for (;;) {
    try {
      return fs.readFileSync(file, "utf8")
    } catch {
      if (performance.now() > deadline) return undefined
      await sleep(100)
    }
  }
}

const failedToSubmit = (message: string, started: number): ProcessEnding => ({
  exitCode: null,
  signal: null,
  timedOut: false,
  seconds: (performance.now() - started) / 1000,
  peakMemoryMb: null,
  logTail: message,
  failure: message,
  outputBytes: 0,
})

const submit = async (settings: SlurmSettings, spec: RunSpec, files: JobFiles): Promise<{ jobId: string } | { failure: string }> => {
  sealSecrets()
  for (const file of [files.stdout, files.stderr, files.exit]) fs.rmSync(file, { force: true })
  fs.mkdirSync(path.dirname(files.script), { recursive: true })
  fs.writeFileSync(files.script, jobScript(spec, files, settings.sandbox), { mode: 0o755 })
  const { CUDA_VISIBLE_DEVICES: _gpu, ...env } = experimentEnvironment(spec)
  const result = await run("sbatch", sbatchArgs(settings, spec, files), { env })
  const jobId = result.exitCode === 0 ? parseJobId(String(result.stdout)) : undefined
  if (jobId) return { jobId }
  const detail = String(result.stderr).trim().split("\n")[0] || String(result.shortMessage)
  return { failure: `sbatch failed: ${detail}` }
}

export const makeSlurmExecutor = (settings: SlurmSettings): ExecutorShape => {
  const host = os.hostname()
  const pollMs = (settings.pollSeconds ?? 2) * 1000
  let fingerprint: Promise<EnvironmentFingerprint> | undefined
  const slots: ReadonlyArray<Slot> = Array.from({ length: settings.maxJobs ?? 4 }, (_, index) => ({ index, gpu: null }))

  const followToEnd = (jobId: string, spec: RunSpec, files: JobFiles) =>
    Effect.acquireUseRelease(
      Effect.sync(() => follow(jobId, spec, files, pollMs)),
      (following) =>
        Effect.gen(function* () {
          if (spec.onStarted) yield* spec.onStarted({ pid: null, host, jobId })
          return yield* Effect.promise(() => following.ended)
        }),
      (following) => Effect.promise(() => following.stop()),
    )

  return {
    kind: "slurm",
    slots: Effect.succeed(slots),
    fingerprint: Effect.promise(() => (fingerprint ??= fingerprintEnvironment(scrubEnv(process.env)))),
    run: (spec) =>
      Effect.gen(function* () {
        const started = performance.now()
        const files = jobFiles(spec.logPath)
        const submitted = yield* Effect.promise(() => submit(settings, spec, files))
        if ("failure" in submitted) {
          fs.writeFileSync(spec.logPath, `${submitted.failure}\n`)
          return failedToSubmit(submitted.failure, started)
        }
        return yield* followToEnd(submitted.jobId, spec, files)
      }).pipe(Effect.withSpan("Executor.run", { attributes: { executor: "slurm" } })),
    attach: (spec, jobId) =>
      Effect.gen(function* () {
        const files = jobFiles(spec.logPath)
        const state = yield* Effect.promise(() => queueState(jobId))
        const known = state.kind !== "gone" || fs.existsSync(files.exit) || (yield* Effect.promise(() => controllerRecord(jobId))) !== undefined
        if (!known) return null
        return yield* followToEnd(jobId, spec, files)
      }),
    cleanupOrphan: (experiment) =>
      Effect.promise(async () => {
        if (!experiment.jobId) return null
        const state = await queueState(experiment.jobId)
        if (state.kind !== "active") return null
        await cancel(experiment.jobId)
        for (let attempt = 0; attempt < 100 && (await queueState(experiment.jobId)).kind === "active"; attempt++) await sleep(200)
        return `cancelled SLURM job ${experiment.jobId} of experiment #${experiment.id} (was ${state.state})`
      }),
  }
}
