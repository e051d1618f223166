/**
 * Runs an experiment's command and reports how it ended; it does not judge the result (metric parsing is a
 * pure function in the code-search stage, fed line by line through `onStdoutLine`).
 *
 * Contract: `run` never fails — spawn problems, crashes and timeouts are all described by the returned
 * ProcessEnding. The process gets a scrubbed environment (no secrets; twoloop's own are sealed first, see
 * common/secrets.ts) plus the experiment's variables, CUDA_VISIBLE_DEVICES for its slot, and the marker
 * `TWOLOOP_RUN_ID` + `TWOLOOP_EXPERIMENT_ID` that every process it starts inherits. What it prints goes to a
 * bounded log with secret values redacted. When its main process ends, every other process of the experiment
 * (its process group and their descendants, anything carrying the marker, anything holding its output pipes)
 * is killed at once, and the pipes are read to their end — for at most a couple of seconds, then closed. At
 * `hardLimitSeconds` all of it gets SIGTERM, then SIGKILL after the grace period; interrupting the calling
 * fiber does the same and waits until nothing of it is left. `cleanupOrphan` finds the processes of an
 * experiment from a killed run by the marker in their environment (never by name) and kills them.
 */
import { Context, Effect, Layer } from "effect"
import { execa } from "execa"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ResolvedExecutor } from "../config.ts"
import type { EnvironmentFingerprint } from "../domain/Experiment.ts"
import { setLongTimeout } from "../common/longTimeout.ts"
import { scrubEnv, sealSecrets, secretValues, StreamRedactor } from "../common/secrets.ts"
import { BoundedLog, LineSplitter } from "./executor/boundedLog.ts"
import { fingerprintEnvironment, queryGpus } from "./executor/fingerprint.ts"
import { type ExperimentMarker, holdersOf, isAlive, outputEndsOf, procAvailable, processesOfExperiment, processTree, signalAll, signalTree, startTicksOf, treeRssMb } from "./executor/processTree.ts"

export interface Slot {
  readonly index: number
  /** GPU index for CUDA_VISIBLE_DEVICES, or null for a CPU slot. */
  readonly gpu: number | null
}

export interface RunSpec {
  readonly experimentId: number
  /** The run the experiment belongs to; with the experiment id it marks the experiment's processes (a random id when absent). */
  readonly runId?: string
  readonly cwd: string
  readonly command: string
  /** Experiment variables (TWOLOOP_TIME_BUDGET, TWOLOOP_SEED, target env...); merged onto the scrubbed environment. */
  readonly env: Readonly<Record<string, string>>
  readonly slot: Slot
  readonly hardLimitSeconds: number
  /** Seconds between SIGTERM and SIGKILL (default 5). */
  readonly killGraceSeconds?: number
  /** Absolute paths the sandbox binds read-only inside the writable workspace (readonly files, the worktree's .git). */
  readonly readonlyPaths?: ReadonlyArray<string>
  readonly logPath: string
  readonly onStdoutLine?: (line: string) => void
  /** Called once the process exists (record its pid before waiting). */
  readonly onStarted?: (started: { readonly pid: number | null; readonly host: string; readonly jobId: string | null }) => Effect.Effect<void>
}

export interface ProcessEnding {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly seconds: number
  readonly peakMemoryMb: number | null
  readonly logTail: string
  /** Set when the command could not be started at all (or the job was lost on a cluster). */
  readonly failure: string | null
  readonly outputBytes: number
  /** Processes of the experiment still alive when its main process ended (killed then). */
  readonly strayProcesses?: number
}

export interface ExecutorShape {
  readonly kind: string
  readonly slots: Effect.Effect<ReadonlyArray<Slot>>
  readonly run: (spec: RunSpec) => Effect.Effect<ProcessEnding>
  /**
   * Cluster executors only: follows a job that a dead run submitted to its end, as `run` would have. Returns
   * null when the cluster no longer knows the job and it left no record (the experiment was lost).
   */
  readonly attach?: (spec: RunSpec, jobId: string) => Effect.Effect<ProcessEnding | null>
  readonly fingerprint: Effect.Effect<EnvironmentFingerprint>
  /** Kills what is left of an experiment from a dead run; returns a description of what was killed, if anything. */
  readonly cleanupOrphan: (experiment: {
    readonly id: number
    readonly runId: string
    readonly pid: number | null
    readonly host: string | null
    readonly jobId: string | null
  }) => Effect.Effect<string | null>
}

/** The environment an experiment process sees. */
export const experimentEnvironment = (spec: Pick<RunSpec, "env" | "slot" | "experimentId" | "runId">, base: Readonly<Record<string, string | undefined>> = process.env) => ({
  ...scrubEnv({ ...base, ...spec.env }),
  ...(spec.runId === undefined ? {} : { TWOLOOP_RUN_ID: spec.runId }),
  TWOLOOP_EXPERIMENT_ID: String(spec.experimentId),
  CUDA_VISIBLE_DEVICES: spec.slot.gpu === null ? "" : String(spec.slot.gpu),
})

const isInside = (dir: string, file: string) => file.startsWith(`${path.resolve(dir)}${path.sep}`)

/** Where the usual credentials of a home directory live: directories, then single files. */
const credentialDirs = [".ssh", ".aws", ".gnupg", ".azure", ".kube", ".docker", ".config/gcloud", ".config/gh"]
const credentialFiles = [".netrc", ".git-credentials", ".npmrc", ".pypirc", ".huggingface/token", ".cache/huggingface/token"]

/** The credential directories and files under `home` that exist (and do not hold the workspace). */
export const credentialPaths = (cwd: string, home = os.homedir()): { readonly dirs: Array<string>; readonly files: Array<string> } => {
  const existing = (names: ReadonlyArray<string>, kind: "dir" | "file") =>
    names
      .map((name) => path.join(home, name))
      .filter((file) => {
        const stat = fs.lstatSync(file, { throwIfNoEntry: false })
        return (kind === "dir" ? stat?.isDirectory() : stat?.isFile()) === true && !isInside(file, cwd) && path.resolve(file) !== path.resolve(cwd)
      })
  return { dirs: existing(credentialDirs, "dir"), files: existing(credentialFiles, "file") }
}

/**
 * Wraps a shell command in bubblewrap: the filesystem read-only except the workspace (where `readonlyPaths`
 * stay read-only) and a private /tmp; the credential directories and files of `hidden` (see
 * credentialPaths) replaced by empty ones; no network; its own PID namespace with the command as its init,
 * so it sees no other process (and no other process's environment) and everything it started dies with it;
 * and it dies with its parent.
 */
export const sandboxArgs = (
  command: string,
  cwd: string,
  readonlyPaths: ReadonlyArray<string> = [],
  hidden: { readonly dirs: ReadonlyArray<string>; readonly files: ReadonlyArray<string> } = { dirs: [], files: [] },
): Array<string> => [
  "--ro-bind", "/", "/",
  "--dev", "/dev",
  "--proc", "/proc",
  "--tmpfs", "/tmp",
  ...hidden.dirs.flatMap((dir) => ["--tmpfs", dir]),
  ...hidden.files.flatMap((file) => ["--ro-bind", "/dev/null", file]),
  "--bind", cwd, cwd,
  ...readonlyPaths.filter((file) => isInside(cwd, file)).flatMap((file) => ["--ro-bind", file, file]),
  "--unshare-net",
  "--unshare-pid",
  "--as-pid-1",
  "--die-with-parent",
  "--chdir", cwd,
  "/bin/sh", "-c", command,
]

interface Running {
  readonly pid: number | null
  readonly ended: Promise<ProcessEnding>
  /** Kills the tree if it is still running (TERM, grace, KILL) and resolves once nothing of it is left. */
  readonly stop: () => Promise<void>
}

/** How long the output pipes may stay open after the main process ended, before their holders are killed and they are closed. */
const drainMs = 1000

const spawnLocal = (spec: RunSpec, sandbox: "none" | "bwrap"): Running => {
  sealSecrets()
  const started = performance.now()
  const marker: ExperimentMarker = { experimentId: spec.experimentId, runId: spec.runId ?? `spawn-${randomBytes(8).toString("hex")}` }
  const log = new BoundedLog(spec.logPath)
  const lines = new LineSplitter((line) => spec.onStdoutLine?.(line))
  const secrets = secretValues()
  const stdoutRedactor = new StreamRedactor(secrets)
  const stderrRedactor = new StreamRedactor(secrets)
  const graceMs = (spec.killGraceSeconds ?? 5) * 1000
  const env = experimentEnvironment({ ...spec, runId: marker.runId })
  const options = { cwd: spec.cwd, env, extendEnv: false, detached: true, stdin: "ignore", buffer: false, reject: false, cleanup: false } as const
  const child =
    sandbox === "bwrap"
      ? execa("bwrap", sandboxArgs(spec.command, spec.cwd, spec.readonlyPaths, credentialPaths(spec.cwd)), options)
      : execa(spec.command, { ...options, shell: true })
  const pid = child.pid ?? null
  // Everything the experiment starts is younger than its main process: older processes need no look.
  const startedSince = pid === null ? 0 : (startTicksOf(pid) ?? 0)
  // The experiment's ends of its output pipes, read before it can pass them on: whoever holds them later is part of it.
  const outputEnds = pid === null || !procAvailable() ? new Set<string>() : outputEndsOf(pid)
  let timedOut = false
  let leaderExited = false
  let strays = 0
  let forcedClose = false
  let peakMb: number | null = null
  const timers: Array<{ readonly clear: () => void }> = []
  const later = (ms: number, callback: () => void) => {
    const timer = setTimeout(callback, ms)
    timers.push({ clear: () => clearTimeout(timer) })
  }

  child.stdout?.on("data", (chunk: Buffer) => {
    const safe = stdoutRedactor.push(chunk)
    log.write(safe)
    lines.push(safe)
  })
  child.stderr?.on("data", (chunk: Buffer) => log.write(stderrRedactor.push(chunk)))

  const sample = () => {
    if (pid === null || !procAvailable() || leaderExited) return
    const mb = treeRssMb(pid)
    if (mb > 0) peakMb = Math.max(peakMb ?? 0, mb)
  }
  const sampler = setInterval(sample, 500)
  sample()

  /** Signals every living process of the experiment (the leader too while it lives); returns how many. */
  const signalExperiment = (signal: NodeJS.Signals, options: { readonly pipeHolders?: boolean } = {}): number => {
    const members = new Set(processesOfExperiment(marker, startedSince))
    if (pid !== null && procAvailable()) for (const member of processTree(pid, { leaderGone: leaderExited })) members.add(member)
    if (options.pipeHolders) for (const holder of holdersOf(outputEnds)) members.add(holder)
    if (pid !== null) {
      try {
        process.kill(-pid, signal)
      } catch {
        // no group left
      }
    }
    return signalAll([...members].filter(isAlive), signal)
  }
  const pipesOpen = () => Boolean((child.stdout && !child.stdout.destroyed && !child.stdout.readableEnded) || (child.stderr && !child.stderr.destroyed && !child.stderr.readableEnded))
  /** Whoever still holds the output pipes is killed after a drain period, then the pipes are closed. */
  const closePipesSoon = () =>
    later(drainMs, () => {
      if (!pipesOpen()) return
      forcedClose = true
      signalExperiment("SIGKILL", { pipeHolders: true })
      later(drainMs, () => {
        child.stdout?.destroy()
        child.stderr?.destroy()
      })
    })
  const terminate = () => {
    if (pid === null) return
    signalExperiment("SIGTERM")
    later(graceMs, () => {
      signalExperiment("SIGKILL", { pipeHolders: true })
      closePipesSoon()
    })
  }
  const hardLimit = setLongTimeout(() => {
    timedOut = true
    terminate()
  }, spec.hardLimitSeconds * 1000)
  timers.push(hardLimit)
  // The main process ended: nothing else of the experiment may go on (or go on printing).
  child.on("exit", () => {
    leaderExited = true
    strays = signalExperiment("SIGKILL")
    closePipesSoon()
  })

  const ended = child.then((result) => {
    clearInterval(sampler)
    for (const timer of timers) timer.clear()
    const rest = stdoutRedactor.end()
    log.write(rest)
    lines.push(rest)
    log.write(stderrRedactor.end())
    lines.end()
    if (strays > 0) log.write(`\n[twoloop: killed ${strays} process${strays === 1 ? "" : "es"} of the experiment still running when its main process ended]\n`)
    log.close()
    const failure = result.exitCode === undefined && !result.signal ? (result.shortMessage ?? "could not start the command") : null
    return {
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      timedOut,
      seconds: (performance.now() - started) / 1000,
      peakMemoryMb: peakMb === null ? null : Math.round(peakMb * 10) / 10,
      logTail: log.tailText(),
      failure,
      outputBytes: log.totalBytes,
      strayProcesses: strays,
    } satisfies ProcessEnding
  })

  const stop = async () => {
    if (pid !== null && !leaderExited && isAlive(pid)) terminate()
    await ended
    // Nothing of the experiment outlives it, whatever it forked, detached or left holding its output.
    if (!procAvailable()) return
    for (let attempt = 0; attempt < 50; attempt++) {
      if (signalExperiment("SIGKILL", { pipeHolders: forcedClose && attempt === 0 }) === 0) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { pid, ended, stop }
}

export const makeLocalExecutor = (config: Pick<ResolvedExecutor, "sandbox"> & { readonly gpus?: "auto" | "none" | ReadonlyArray<number>; readonly cpuSlots?: number }): ExecutorShape => {
  const host = os.hostname()
  let slots: Promise<ReadonlyArray<Slot>> | undefined
  let fingerprint: Promise<EnvironmentFingerprint> | undefined
  const cpuSlots = (): Array<Slot> => Array.from({ length: config.cpuSlots ?? 1 }, (_, index) => ({ index, gpu: null }))
  const detectSlots = async (): Promise<ReadonlyArray<Slot>> => {
    const gpus = config.gpus ?? "auto"
    if (gpus === "none") return cpuSlots()
    if (gpus !== "auto") return gpus.map((gpu, index) => ({ index, gpu }))
    const found = await queryGpus()
    return found.length > 0 ? found.map((gpu, index) => ({ index, gpu: gpu.index })) : cpuSlots()
  }
  return {
    kind: "local",
    slots: Effect.promise(() => (slots ??= detectSlots())),
    fingerprint: Effect.promise(() => (fingerprint ??= fingerprintEnvironment(scrubEnv(process.env)))),
    run: (spec) =>
      Effect.acquireUseRelease(
        Effect.sync(() => spawnLocal(spec, config.sandbox)),
        (running) =>
          Effect.gen(function* () {
            if (spec.onStarted) yield* spec.onStarted({ pid: running.pid, host, jobId: null })
            return yield* Effect.promise(() => running.ended)
          }),
        (running) => Effect.promise(() => running.stop()),
      ).pipe(Effect.withSpan("Executor.run")),
    cleanupOrphan: (experiment) =>
      Effect.sync(() => {
        if (experiment.host !== null && experiment.host !== host) return null
        const pids = processesOfExperiment({ experimentId: experiment.id, runId: experiment.runId })
        if (pids.length === 0) return null
        for (const pid of pids) signalTree(pid, "SIGKILL")
        return `killed ${pids.length} orphaned process${pids.length === 1 ? "" : "es"} of experiment #${experiment.id} (pid ${pids.join(", ")})`
      }),
  }
}

export class Executor extends Context.Service<Executor, ExecutorShape>()("twoloop/Executor") {
  static readonly layerLocal = (config: Parameters<typeof makeLocalExecutor>[0]) => Layer.succeed(Executor, makeLocalExecutor(config))
}
