/**
 * Runs and resumes pipelines. A run is planned first (the run row with the config snapshot, then one stage
 * row per stage and arm), then its stages execute in order; each stage's handoff is written before the next
 * starts. `resumeRun` needs only the store: it reads the config snapshot, skips completed stages and
 * re-enters the unfinished one with `resuming: true`.
 *
 * Contract: one live process per run (a lock with a heartbeat; a stale or dead holder is taken over). The
 * holder's store connection is fenced: once another process has taken the lock over (this one was stopped,
 * say), every write it tries fails, and it stops its work and exits with one line, writing nothing more. A
 * command refused the lock writes nothing. Failures leave the run `failed`, interruptions `interrupted`;
 * both are resumable.
 */
import { Cause, Effect, Exit } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Arm, decodeConfigSnapshot, type ResolvedConfig } from "../config.ts"
import { sha256 } from "../common/hash.ts"
import { ConfigError, RunError } from "../domain/errors.ts"
import type { Handoff } from "../domain/Handoff.ts"
import type { StageRecord } from "../domain/Run.ts"
import type { InnerSummary, OuterSummary, StageRole } from "../domain/StageSummary.ts"
import { Executor } from "../services/Executor.ts"
import { Progress } from "../services/Progress.ts"
import { Store } from "../services/Store.ts"
import { lockOwnerId } from "../services/store/runs.ts"
import { Workspace } from "../services/Workspace.ts"
import { copyRefusal } from "../services/workspace/copyTarget.ts"
import { Library } from "../services/Store.ts"
import { saveRunPrompts } from "./library.ts"
import { cleanedEventKind } from "./clean.ts"
import { preflight } from "./preflight.ts"
import { writeReport } from "./report/write.ts"
import { encodeSummary, getStageKind, innerSummaryOf, outerSummaryOf, registryDecoder, roleOf, type StageRunError, type StageServices } from "./StageKind.ts"
import { failpoint } from "../services/failpoints.ts"

export interface RunOptions {
  /** Arms to run (overrides the config's `arms`). */
  readonly arms?: ReadonlyArray<Arm>
  /** Run only the stage with this name (in the hybrid arm, with an empty handoff). */
  readonly stage?: string
  /** Polled between units of work; true asks every stage to stop after what it is running. */
  readonly shouldStop?: Effect.Effect<boolean>
  /** Seconds without a heartbeat after which another process may take the run over (default 30). */
  readonly lockStaleSeconds?: number
}

export interface StageResult {
  readonly id: number
  readonly arm: string
  readonly name: string
  readonly kind: string
  readonly status: string
  readonly role: StageRole
  /** The role's figures from the stage's summary (null for the other role, or when it has none). */
  readonly inner: InnerSummary | null
  readonly outer: OuterSummary | null
  /** The summary as the stage kind wrote it (its own schema). */
  readonly summary: unknown
  /** The stage's experiment rows, and how many were kept. */
  readonly experiments: number
  readonly kept: number
}

export interface RunSummary {
  readonly runId: string
  readonly name: string
  readonly status: "completed" | "interrupted"
  readonly runDir: string
  readonly stages: ReadonlyArray<StageResult>
  /** report.md in the run directory. */
  readonly reportFile: string | null
}

export type RunFailure = StageRunError | RunError | ConfigError

export const newRunId = (date = new Date()) => {
  const stamp = date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `${stamp}-${randomBytes(2).toString("hex")}`
}

/** Where a run's worktrees and logs live: next to the store, or under a cluster executor's shared `runDir`. */
export const runDirOf = (config: Pick<ResolvedConfig, "store" | "executor">, runId: string) =>
  config.executor.kind === "slurm" && config.executor.runDir ? path.join(config.executor.runDir, runId) : path.join(path.dirname(config.store), "runs", runId)

/** The stages of each arm, in order. `inner-only` keeps only inner stages. */
export const planArms = (config: ResolvedConfig, options: RunOptions) => {
  if (options.stage !== undefined) {
    const entry = config.stages.find((s) => s.name === options.stage)
    if (!entry) return undefined
    return [{ arm: "hybrid", position: 0, kind: entry.kind, name: entry.name }]
  }
  const arms = options.arms ?? config.arms
  return arms.flatMap((arm) =>
    config.stages
      .filter((entry) => arm === "hybrid" || getStageKind(entry.kind)?.role === "inner")
      .map((entry, position) => ({ arm, position, kind: entry.kind, name: entry.name })),
  )
}

const slugOf = (stage: StageRecord) => (stage.arm === "hybrid" ? stage.name : `${stage.arm}-${stage.name}`)

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = cause.reasons.find((r) => r._tag === "Fail")
  if (failure && "error" in failure) return String((failure.error as { message?: string }).message ?? failure.error)
  const defect = cause.reasons.find((r) => r._tag === "Die")
  if (defect && "defect" in defect) return `internal error: ${String((defect.defect as Error)?.message ?? defect.defect)}`
  return "interrupted"
}

/** Takes the run's lock (or fails without writing anything) and fences this connection's writes to its holder. */
const holdLock = (runId: string, staleSeconds: number) =>
  Effect.gen(function* () {
    const store = yield* Store
    const owner = lockOwnerId()
    const result = yield* store.runs.acquireRunLock(runId, owner, staleSeconds * 1000)
    if (!result.acquired)
      return yield* new RunError({ message: `run ${runId} is being run by ${result.owner} (last heartbeat ${Math.round(result.ageMs / 1000)} s ago); wait for it or stop it first` })
    yield* store.runs.fenceRunWrites(runId, owner)
    return owner
  })

const lockLost = (runId: string, holder: string | null) =>
  new RunError({
    message: `run ${runId} was taken over by ${holder ?? "another process"} while this process was not heartbeating (stopped or suspended?); this process stopped and wrote nothing more`,
  })

/** Heartbeats the lock; fails as soon as another process holds it. */
const watchLock = (runId: string, owner: string, staleSeconds: number) =>
  Effect.gen(function* () {
    const store = yield* Store
    for (;;) {
      yield* Effect.sleep(`${Math.max(1, staleSeconds / 6)} seconds`)
      if (!(yield* store.runs.heartbeatRunLock(runId, owner))) return yield* lockLost(runId, yield* store.runs.lockOwnerOf(runId))
    }
  })

/**
 * On resume, before anything else runs: kills what the run's previous process left of its running
 * experiments (cluster jobs the executor can follow again are left alone) and records each as an event.
 */
const killOrphansOfRun = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const executor = yield* Executor
    const progress = yield* Progress
    const stages = yield* store.runs.listStages(runId)
    for (const row of yield* store.experiments.runningExperimentsOfRun(runId)) {
      if (executor.attach && row.jobId) continue
      const killed = yield* executor.cleanupOrphan({ ...row, runId })
      const stage = stages.find((s) => s.id === row.stageId)
      if (killed) yield* progress.emit({ runId, stageId: row.stageId, kind: "orphan-killed", message: `${stage?.name ?? "stage"}: ${killed}` })
    }
  })

/** Whether this process still holds the run's lock (every write depends on it). */
const stillHolds = (runId: string, owner: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    return (yield* store.runs.lockOwnerOf(runId)) === owner
  })

/** Executes the planned stages of a run (fresh or resumed). */
const executeRun = (runId: string, config: ResolvedConfig, options: RunOptions, resumedFrom?: string): Effect.Effect<RunSummary, RunFailure, StageServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const progress = yield* Progress
    const run = (yield* store.runs.getRun(runId))!
    const shouldStop = options.shouldStop ?? Effect.succeed(false)
    const staleSeconds = options.lockStaleSeconds ?? 30
    const owner = yield* holdLock(runId, staleSeconds)
    if (resumedFrom !== undefined) {
      yield* progress.emit({ runId, kind: "run-resumed", message: `resuming run ${runId} (${run.name}, was ${resumedFrom})` })
      yield* killOrphansOfRun(runId)
    }
    yield* store.runs.setRunStatus(runId, "running")
    const stages = yield* store.runs.listStages(runId)
    let status: RunSummary["status"] = "completed"
    const exit = yield* Effect.gen(function* () {
      const arms = [...new Set(stages.map((s) => s.arm))]
      outer: for (const arm of arms) {
        let handoff: Handoff = {}
        for (const stage of stages.filter((s) => s.arm === arm)) {
          if (stage.status === "completed") {
            handoff = stage.handoff ?? {}
            continue
          }
          if (yield* shouldStop) {
            status = "interrupted"
            break outer
          }
          const kind = getStageKind(stage.kind)
          if (!kind) return yield* new RunError({ message: `stage ${stage.name} has kind "${stage.kind}", which is not registered in this twoloop` })
          const entry = config.stages.find((s) => s.name === stage.name)
          if (!entry) return yield* new RunError({ message: `stage ${stage.name} is not in the run's config snapshot` })
          // Options are decoded again: a snapshot from an earlier twoloop gets the defaults of options it lacked.
          const options = registryDecoder.decode(stage.kind, entry.options as Record<string, unknown>, `stages.${stage.name}`)
          if (!options.ok) return yield* new RunError({ message: `run ${runId}: ${options.message}` })
          const resuming = stage.status !== "pending"
          const input = resuming && stage.input ? stage.input : handoff
          yield* store.runs.startStage(stage.id, input)
          const stageDir = path.join(run.runDir, slugOf(stage))
          fs.mkdirSync(stageDir, { recursive: true })
          const current = (yield* store.runs.getStage(stage.id))!
          const outcome = yield* kind
            .run({ runId, stage: current, slug: slugOf(stage), options: options.value as never, config, input, runDir: run.runDir, stageDir, resuming, shouldStop })
            .pipe(
              Effect.onExit((stageExit) =>
                Exit.isSuccess(stageExit)
                  ? Effect.void
                  : store.runs.setStageStatus(stage.id, Cause.hasInterruptsOnly(stageExit.cause) ? "interrupted" : "failed", describeCause(stageExit.cause)),
              ),
            )
          const summary = encodeSummary(kind, outcome.summary)
          if (outcome.stopped) {
            yield* store.runs.saveStageSummary(stage.id, summary)
            yield* store.runs.setStageStatus(stage.id, "interrupted", "stopped on request")
            status = "interrupted"
            break outer
          }
          yield* store.runs.completeStage(stage.id, outcome.handoff, summary)
          yield* failpoint("stage-completed")
          handoff = outcome.handoff
        }
      }
    }).pipe(Effect.raceFirst(watchLock(runId, owner, staleSeconds)), Effect.exit)
    // Lost the lock (a fenced write failed, or the heartbeat found another holder): not one more write.
    if (!(yield* stillHolds(runId, owner))) return yield* lockLost(runId, yield* store.runs.lockOwnerOf(runId))
    if (Exit.isFailure(exit)) {
      const interrupted = Cause.hasInterruptsOnly(exit.cause)
      yield* store.runs.setRunStatus(runId, interrupted ? "interrupted" : "failed", describeCause(exit.cause))
      yield* store.runs.releaseRunLock(runId, owner)
      yield* writeReport(store, runId)
      return yield* Effect.failCause(exit.cause)
    }
    yield* store.runs.setRunStatus(runId, status)
    yield* store.runs.releaseRunLock(runId, owner)
    const written = yield* writeReport(store, runId)
    const library = yield* Library
    const prompts = yield* saveRunPrompts(store, library, runId)
    for (const entry of prompts.saved)
      yield* progress.emit({ runId, kind: "prompt-saved", message: `saved the best evolved prompt as ${entry.id} in the prompt library ${library.file} (twoloop prompts show ${entry.id})` })
    for (const { stage, origin } of prompts.unchanged)
      yield* progress.emit({ runId, kind: "prompt-unchanged", message: `${stage}: the best candidate is the ${origin === "library" ? "library entry it started from" : "seed"} itself; nothing evolved, nothing saved to the prompt library` })
    const finalStages = yield* store.runs.listStages(runId)
    yield* progress.emit({
      runId,
      kind: status === "completed" ? "run-completed" : "run-interrupted",
      message: status === "completed" ? `run ${runId} completed; report: ${written?.markdownFile}` : `run ${runId} stopped; continue it with: twoloop resume ${runId}`,
    })
    return {
      runId,
      name: run.name,
      status,
      runDir: run.runDir,
      stages: yield* Effect.forEach(finalStages, (s) =>
        Effect.gen(function* () {
          const role = roleOf(s.kind)
          const counts = yield* store.experiments.statusCounts({ stageId: s.id })
          return {
            id: s.id,
            arm: s.arm,
            name: s.name,
            kind: s.kind,
            status: s.status,
            role,
            inner: role === "inner" ? innerSummaryOf(s) : null,
            outer: role === "outer" ? outerSummaryOf(s) : null,
            summary: s.summary,
            experiments: Object.values(counts).reduce((sum, n) => sum + n, 0),
            kept: counts.keep ?? 0,
          }
        }),
      ),
      reportFile: written?.markdownFile ?? null,
    }
  }).pipe(
    Effect.onInterrupt(() =>
      Effect.gen(function* () {
        const store = yield* Store
        if ((yield* store.runs.lockOwnerOf(runId)) !== lockOwnerId()) return
        yield* store.runs.setRunStatus(runId, "interrupted", "interrupted")
      }),
    ),
  )

/** Plans a new run of `config` and executes it. */
export const startRun = (config: ResolvedConfig, options: RunOptions = {}): Effect.Effect<RunSummary, RunFailure, StageServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const workspace = yield* Workspace
    const progress = yield* Progress
    const plan = planArms(config, options)
    if (!plan) return yield* new RunError({ message: `no stage named "${options.stage}" in ${config.configFile} (stages: ${config.stages.map((s) => s.name).join(", ")})` })
    // Config, target and budget problems refuse the run here, before its row, branches or worktrees exist.
    const checked = yield* preflight(config, [...new Set(plan.map((p) => p.name))])
    const runId = newRunId()
    const runDir = runDirOf(config, runId)
    const ignore = path.join(path.dirname(config.store), ".gitignore")
    if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, "# created by twoloop: keep runs and the store out of git\n*\n")
    const target = yield* workspace.inspectTarget(config.target.dir).pipe(Effect.orElseSucceed(() => ({ repoRoot: null, head: null, dirty: false })))
    // A target not under git is copied whole: refuse a careless one before anything of the run exists.
    const refusal = target.repoRoot === null && config.target.copyAnyDir !== true && fs.existsSync(config.target.dir) ? copyRefusal(config.target.dir) : undefined
    if (refusal) return yield* new RunError({ message: `${config.configFile}: ${refusal}` })
    fs.mkdirSync(runDir, { recursive: true })
    const configJson = JSON.stringify(config)
    yield* store.runs.insertRun({
      id: runId,
      name: config.name,
      configFile: config.configFile,
      configJson,
      configHash: sha256(configJson),
      arms: [...new Set(plan.map((p) => p.arm))],
      targetDir: config.target.dir,
      targetCommit: target.head,
      targetDirty: target.dirty,
      runDir,
    })
    yield* store.runs.planStages(runId, plan)
    yield* progress.emit({
      runId,
      kind: "run-started",
      message: `run ${runId} (${config.name}): ${plan.map((p) => (p.arm === "hybrid" ? p.name : `${p.arm}:${p.name}`)).join(" → ")}; store ${config.store}`,
    })
    for (const note of checked.notes) yield* progress.emit({ runId, kind: "preflight-note", message: note })
    for (const warning of checked.warnings) yield* progress.emit({ runId, kind: "preflight-warning", message: `warning: ${warning}` })
    return yield* executeRun(runId, config, options)
  })

/** Continues a run from its store: the config snapshot, completed stages skipped, the unfinished one resumed. */
export const resumeRun = (runId: string, options: RunOptions = {}): Effect.Effect<RunSummary, RunFailure, StageServices> =>
  Effect.gen(function* () {
    const store = yield* Store
    const run = yield* store.runs.getRun(runId)
    if (!run) return yield* new RunError({ message: `no run ${runId} in ${store.file}` })
    if (run.status === "completed") return yield* new RunError({ message: `run ${runId} already completed` })
    const cleaned = yield* store.use((db) => db.prepare("SELECT 1 FROM events WHERE run_id = ? AND kind = ? LIMIT 1").get(runId, cleanedEventKind))
    if (cleaned) return yield* new RunError({ message: `run ${runId} was cleaned (twoloop clean removed its worktrees and branches) and cannot be resumed; start a new run` })
    const snapshot = decodeConfigSnapshot(run.configJson)
    if (!snapshot.ok) return yield* new RunError({ message: `run ${runId}: ${snapshot.message}` })
    return yield* executeRun(runId, snapshot.config, options, run.status)
  })
