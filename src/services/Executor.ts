/**
 * Runs an experiment's command and reports how it ended; it does not judge the result (metric parsing is a
 * pure function in the code-search stage, fed line by line through `onStdoutLine`).
 *
 * Contract: `run` never fails — spawn problems, crashes and timeouts are all described by the returned
 * ProcessEnding. The process gets a scrubbed environment (no secrets) plus the experiment's variables and
 * CUDA_VISIBLE_DEVICES for its slot. At `hardLimitSeconds` the whole process tree gets SIGTERM, then SIGKILL
 * after the grace period; interrupting the calling fiber does the same and waits until the tree is gone.
 * Output goes to a bounded log file. `cleanupOrphan` finds processes of an experiment from a killed run by
 * the experiment id in their environment (never by name) and kills them.
 */
import { Context, Effect, Layer } from "effect"
import { execa } from "execa"
import * as os from "node:os"
import type { ResolvedExecutor } from "../config.ts"
import type { EnvironmentFingerprint } from "../domain/Experiment.ts"
import { scrubEnv } from "../common/secrets.ts"
import { BoundedLog, LineSplitter } from "./executor/boundedLog.ts"
import { fingerprintEnvironment, queryGpus } from "./executor/fingerprint.ts"
import { isAlive, livingTree, procAvailable, processesOfExperiment, signalTree, treeRssMb } from "./executor/processTree.ts"

export interface Slot {
  readonly index: number
  /** GPU index for CUDA_VISIBLE_DEVICES, or null for a CPU slot. */
  readonly gpu: number | null
}

export interface RunSpec {
  /** The run and the experiment (unique per run); the process sees both, and orphan cleanup matches both. */
  readonly runId: string
  readonly experimentId: number
  readonly cwd: string
  readonly command: string
  /** Experiment variables (TWOLOOP_TIME_BUDGET, TWOLOOP_SEED, target env...); merged onto the scrubbed environment. */
  readonly env: Readonly<Record<string, string>>
  readonly slot: Slot
  readonly hardLimitSeconds: number
  /** Seconds between SIGTERM and SIGKILL (default 5). */
  readonly killGraceSeconds?: number
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
  readonly cleanupOrphan: (experiment: { readonly runId: string; readonly id: number; readonly pid: number | null; readonly host: string | null; readonly jobId: string | null }) => Effect.Effect<string | null>
}

/** The environment an experiment process sees. */
export const experimentEnvironment = (spec: Pick<RunSpec, "env" | "slot" | "runId" | "experimentId">, base: Readonly<Record<string, string | undefined>> = process.env) => ({
  ...scrubEnv({ ...base, ...spec.env }),
  TWOLOOP_RUN_ID: spec.runId,
  TWOLOOP_EXPERIMENT_ID: String(spec.experimentId),
  CUDA_VISIBLE_DEVICES: spec.slot.gpu === null ? "" : String(spec.slot.gpu),
})

/** Wraps a shell command in bubblewrap: read-only filesystem except the workspace and /tmp, no network. */
export const sandboxArgs = (command: string, cwd: string): Array<string> => [
  "--ro-bind", "/", "/",
  "--dev", "/dev",
  "--proc", "/proc",
  "--tmpfs", "/tmp",
  "--bind", cwd, cwd,
  "--unshare-net",
  "--die-with-parent",
  "--chdir", cwd,
  "/bin/sh", "-c", command,
]

interface Running {
  readonly pid: number | null
  readonly ended: Promise<ProcessEnding>
  /** Kills the tree if it is still running (TERM, grace, KILL) and resolves once it has ended. */
  readonly stop: () => Promise<void>
}

const spawnLocal = (spec: RunSpec, sandbox: "none" | "bwrap"): Running => {
  const started = performance.now()
  const log = new BoundedLog(spec.logPath)
  const lines = new LineSplitter((line) => spec.onStdoutLine?.(line))
  const graceMs = (spec.killGraceSeconds ?? 5) * 1000
  const env = experimentEnvironment(spec)
  const child =
    sandbox === "bwrap"
      ? execa("bwrap", sandboxArgs(spec.command, spec.cwd), { cwd: spec.cwd, env, extendEnv: false, detached: true, stdin: "ignore", buffer: false, reject: false, cleanup: false })
      : execa(spec.command, { shell: true, cwd: spec.cwd, env, extendEnv: false, detached: true, stdin: "ignore", buffer: false, reject: false, cleanup: false })
  const pid = child.pid ?? null
  let timedOut = false
  let leaderExited = false
  let peakMb: number | null = null
  const timers: Array<NodeJS.Timeout> = []

  child.stdout?.on("data", (chunk: Buffer) => {
    log.write(chunk)
    lines.push(chunk)
  })
  child.stderr?.on("data", (chunk: Buffer) => log.write(chunk))

  const sample = () => {
    if (pid === null || !procAvailable()) return
    const mb = treeRssMb(pid)
    if (mb > 0) peakMb = Math.max(peakMb ?? 0, mb)
  }
  const sampler = setInterval(sample, 500)
  sample()

  const terminate = () => {
    if (pid === null) return
    signalTree(pid, "SIGTERM")
    timers.push(setTimeout(() => signalTree(pid, "SIGKILL"), graceMs))
  }
  timers.push(
    setTimeout(() => {
      timedOut = true
      terminate()
    }, spec.hardLimitSeconds * 1000),
  )
  // When the leader exits, stragglers left in its group (backgrounded children) are killed too.
  child.on("exit", () => {
    leaderExited = true
    if (pid !== null) signalTree(pid, "SIGKILL")
  })

  const ended = child.then((result) => {
    clearInterval(sampler)
    for (const timer of timers) clearTimeout(timer)
    lines.end()
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
    }
  })

  const stop = async () => {
    if (pid !== null && !leaderExited && isAlive(pid)) terminate()
    await ended
    // The leader is gone; make sure nothing of its tree outlives the experiment.
    if (pid === null || !procAvailable()) return
    for (let attempt = 0; attempt < 50; attempt++) {
      const living = livingTree(pid)
      if (living.length === 0) return
      signalTree(pid, "SIGKILL")
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
        const pids = new Set(processesOfExperiment(experiment.runId, experiment.id))
        if (pids.size === 0) return null
        for (const pid of pids) signalTree(pid, "SIGKILL")
        return `killed ${pids.size} orphaned process${pids.size === 1 ? "" : "es"} of experiment #${experiment.id} (pid ${[...pids].join(", ")})`
      }),
  }
}

export class Executor extends Context.Service<Executor, ExecutorShape>()("twoloop/Executor") {
  static readonly layerLocal = (config: Parameters<typeof makeLocalExecutor>[0]) => Layer.succeed(Executor, makeLocalExecutor(config))
}
