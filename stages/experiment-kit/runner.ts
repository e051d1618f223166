/**
 * Runs one planned experiment row to its end and records it: reset the worker's worktree to the row's base
 * commit, apply its edit through the guards, hash-check the readonly files, note their file metadata and the
 * git files an experiment could plant commands in, run the command through the Executor (metric scanned line
 * by line), then check again. A run that wrote a readonly file (even one it put back: its inode, ctime or
 * mtime moved) or changed git's configuration is recorded `rejected` with the reason; changed git files are
 * put back first and an event says so. An edit that fails a guard is recorded `rejected` with the reason and
 * the workspace is restored. Successful runs end as `measured`: judging is the caller's job. Re-running a row
 * (resume) is safe: it starts from the reset.
 */
import { createTwoFilesPatch } from "diff"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../../src/common/hash.ts"
import type { ResolvedTarget } from "../../src/config.ts"
import type { Edit } from "../../src/domain/Edit.ts"
import type { EnvironmentFingerprint, Experiment } from "../../src/domain/Experiment.ts"
import type { WorkspaceError } from "../../src/domain/errors.ts"
import { Executor, type ProcessEnding, type Slot } from "../../src/services/Executor.ts"
import { Progress } from "../../src/services/Progress.ts"
import { Store } from "../../src/services/Store.ts"
import { type RestoredFile, Workspace, type Worktree, type WorkspaceSetup } from "../../src/services/Workspace.ts"
import { applyChanges, checkScope, isSeedOnlyChange, normalizeEditPath } from "./edits.ts"
import { hardLimitSeconds, type RunLimits } from "./limits.ts"
import { classifyEnding, metricFromJson, metricScanner } from "./metric.ts"
import { failpoint } from "../../src/services/failpoints.ts"
import { ineffectiveChanges, type TunableContext } from "./tunables/index.ts"

export interface RunnerContext {
  readonly runId: string
  readonly target: ResolvedTarget
  readonly setup: WorkspaceSetup
  /** Editable files at a commit (cached: commits never change). */
  readonly filesAt: (commit: string) => Effect.Effect<ReadonlyMap<string, string>, WorkspaceError>
  /** The commit each worktree (by root) was last reset to or committed, when known. */
  readonly heads: Map<string, string>
  /** sha256 of each readonly file at the start of the run. */
  readonly readonlyHashes: ReadonlyMap<string, string>
  readonly logDir: string
  readonly limits: RunLimits
  readonly fingerprint: EnvironmentFingerprint
  /** How the target runs (its command's flags override tunables); default: just the command. */
  readonly tunables?: TunableContext
}

export const hashFile = (file: string): string | null => {
  try {
    return sha256(fs.readFileSync(file))
  } catch {
    return null
  }
}

export const hashReadonly = (targetPath: string, files: ReadonlyArray<string>): Map<string, string> =>
  new Map(files.map((file) => [file, hashFile(path.join(targetPath, file)) ?? "missing"]))

/** What identifies one version of a file on disk: any write moves ctime (which no process can set back). */
const fileIdentity = (file: string): string => {
  const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false })
  return stat ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}:${stat.mode}` : "missing"
}

/** The identity of each readonly file in the worktree, taken right before a run. */
const readonlyIdentities = (context: RunnerContext, worktree: Worktree): Map<string, string> =>
  new Map([...context.readonlyHashes.keys()].map((file) => [file, fileIdentity(path.join(worktree.targetPath, file))]))

/** The first readonly file that was written (or replaced) since `before`, even if its content is the same. */
const readonlyWritten = (before: ReadonlyMap<string, string>, worktree: Worktree): string | undefined => {
  for (const [file, identity] of before) if (fileIdentity(path.join(worktree.targetPath, file)) !== identity) return file
  return undefined
}

const readonlyDrift = (context: RunnerContext, worktree: Worktree): string | undefined => {
  for (const [file, expected] of context.readonlyHashes) {
    const actual = hashFile(path.join(worktree.targetPath, file)) ?? "missing"
    if (actual !== expected) return file
  }
  return undefined
}

/** Reads editable files as they are in the worktree. */
export const readEditable = (worktree: Worktree, editable: ReadonlyArray<string>): Map<string, string> =>
  new Map(editable.map((file) => [normalizeEditPath(file)!, fs.existsSync(path.join(worktree.targetPath, file)) ? fs.readFileSync(path.join(worktree.targetPath, file), "utf8") : ""]))

type Applied = { readonly ok: true; readonly diff: string } | { readonly ok: false; readonly reason: string; readonly diff: string | null }

/** Paths of the editable files relative to the repository root (as git status prints them). */
export const editableInRepo = (context: RunnerContext) =>
  new Set(context.target.editable.map((file) => path.posix.join(context.setup.targetSubdir.split(path.sep).join("/"), normalizeEditPath(file)!)))

/** Hard reset to `commit` (and removal of untracked files), remembering the worktree's HEAD. */
export const resetWorktree = (context: RunnerContext, worktree: Worktree, commit: string) =>
  Effect.gen(function* () {
    const workspace = yield* Workspace
    context.heads.delete(worktree.root)
    yield* workspace.resetTo(worktree, commit)
    context.heads.set(worktree.root, commit)
  })

/**
 * Brings a worktree to the clean state of `commit`. When its HEAD is already that commit, one `git status`
 * tells what to undo: changed editable files are rewritten from the commit's content; anything else
 * (untracked run outputs, other changes) falls back to a hard reset.
 */
export const cleanWorktree = (context: RunnerContext, worktree: Worktree, commit: string) =>
  Effect.gen(function* () {
    const workspace = yield* Workspace
    if (context.heads.get(worktree.root) === commit) {
      const changed = yield* workspace.status(worktree)
      if (changed.length === 0) return
      const editable = editableInRepo(context)
      if (changed.every((entry) => entry.code === " M" && editable.has(entry.path))) {
        const files = yield* context.filesAt(commit)
        const prefix = context.setup.targetSubdir.split(path.sep).join("/")
        for (const entry of changed) {
          const relative = prefix ? path.posix.relative(prefix, entry.path) : entry.path
          const content = files.get(relative)
          if (content === undefined) return yield* resetWorktree(context, worktree, commit)
          fs.writeFileSync(path.join(worktree.targetPath, relative), content)
        }
        return
      }
    }
    yield* resetWorktree(context, worktree, commit)
  })

const unifiedDiff = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>) =>
  [...after].map(([file, content]) => createTwoFilesPatch(`a/${file}`, `b/${file}`, before.get(file) ?? "", content, "", "", { context: 3 }).replace(/^=+\n/, "")).join("")

/**
 * Kills what a dead run left of a stage's `running` experiments (and records it as an event). Cluster jobs
 * the executor can follow again are left alone: running their row re-attaches to them.
 */
export const killOrphans = (stage: { readonly runId: string; readonly stageId: number; readonly stageName: string }, rows: ReadonlyArray<Experiment>) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const progress = yield* Progress
    for (const row of rows.filter((e) => e.status === "running" && !(executor.attach && e.jobId))) {
      const killed = yield* executor.cleanupOrphan({ ...row, runId: stage.runId })
      if (killed) yield* progress.emit({ runId: stage.runId, stageId: stage.stageId, kind: "orphan-killed", message: `${stage.stageName}: ${killed}` })
    }
  })

/** Applies an edit to a clean worktree through every guard; on refusal the worktree is restored. */
export const applyEditGuarded = (context: RunnerContext, worktree: Worktree, edit: Edit, baseCommit: string) =>
  Effect.gen(function* () {
    const workspace = yield* Workspace
    const refuse = (reason: string, diff: string | null = null) => resetWorktree(context, worktree, baseCommit).pipe(Effect.as<Applied>({ ok: false, reason, diff }))
    const scope = checkScope(edit, context.target.editable, context.target.readonly)
    if (!scope.ok) return yield* refuse(scope.reason)
    const root = fs.realpathSync(worktree.targetPath)
    for (const change of edit.changes) {
      const file = path.join(worktree.targetPath, normalizeEditPath(change.path)!)
      const stat = fs.lstatSync(file, { throwIfNoEntry: false })
      if (stat?.isSymbolicLink()) return yield* refuse(`${change.path} is a symbolic link; edits through links are refused`)
      const parent = fs.realpathSync(path.dirname(file))
      if (parent !== root && !parent.startsWith(`${root}${path.sep}`)) return yield* refuse(`${change.path} resolves outside the target directory`)
    }
    const before = readEditable(worktree, context.target.editable)
    const applied = applyChanges(before, edit.changes)
    if (!applied.ok) return yield* refuse(applied.reason)
    if (isSeedOnlyChange(before, applied.files)) return yield* refuse("the edit only changes a seed; seeds come from the harness (TWOLOOP_SEED) and are not improvements")
    const ineffective = ineffectiveChanges(before, applied.files, context.tunables ?? { command: context.target.command })
    if (ineffective) return yield* refuse(`the edit cannot take effect: it only changes ${ineffective.map((s) => `${s.tunable.name}, which ${s.reason.replace(/^the command sets it/, "the command sets")}`).join("; ")}`)
    for (const [file, content] of applied.files) fs.writeFileSync(path.join(worktree.targetPath, file), content)
    const allowed = editableInRepo(context)
    const changed = yield* workspace.status(worktree)
    const diff = unifiedDiff(before, applied.files)
    const outside = changed.find((entry) => !allowed.has(entry.path))
    if (outside) return yield* refuse(`the edit changed ${outside.path}, which is not an editable file`, yield* workspace.diff(worktree))
    return { ok: true, diff } satisfies Applied
  })

export interface RunPlacement {
  readonly worktree: Worktree
  readonly slot: Slot
}

/**
 * Executes a planned (or interrupted) experiment row and records its end. Returns the updated row: status
 * `measured`, `crash`, `timeout` or `rejected`.
 */
/** The diff an edit makes to the editable files at `commit` (computed, not read from a worktree). */
const diffOfEdit = (context: RunnerContext, edit: Edit, commit: string) =>
  Effect.gen(function* () {
    const before = yield* context.filesAt(commit)
    const applied = applyChanges(before, edit.changes)
    return applied.ok ? unifiedDiff(before, applied.files) : null
  })

/** The metric file a run wrote, or undefined when it wrote none. */
const readMetricFile = (worktree: Worktree, file: string): string | undefined => {
  try {
    return fs.readFileSync(path.join(worktree.targetPath, file), "utf8")
  } catch {
    return undefined
  }
}

/** What the guards saw around a run that happened in this process. */
interface RunGuards {
  readonly readonlyBefore: ReadonlyMap<string, string>
  readonly gitChanged: ReadonlyArray<RestoredFile>
}

const describeGitChanges = (changed: ReadonlyArray<RestoredFile>) =>
  changed.map((entry) => `${entry.file} (${entry.change}${entry.failed ? `; could not be put back: ${entry.failed}` : ""})`).join(", ")

/** Judges how the process ended (metric, readonly files untouched, git left alone) and records it on the row. */
const recordEnding = (
  context: RunnerContext,
  experiment: Experiment,
  worktree: Worktree,
  base: string,
  ending: ProcessEnding,
  scanner: ReturnType<typeof metricScanner>,
  diff: string | null,
  guards?: RunGuards,
) =>
  Effect.gen(function* () {
    const store = yield* Store
    const metric = context.target.metric
    const scan = metric.file === undefined ? scanner.result() : metricFromJson(readMetricFile(worktree, metric.file), metric)
    const classification = classifyEnding(ending, scan, metric)
    const changedFile = readonlyDrift(context, worktree)
    const writtenFile = guards ? readonlyWritten(guards.readonlyBefore, worktree) : undefined
    const gitChanged = guards?.gitChanged ?? []
    const rejection =
      gitChanged.length > 0
        ? `the experiment changed git's configuration, which could make git run its commands: ${describeGitChanges(gitChanged)}; twoloop put it back`
        : changedFile
          ? `readonly file ${changedFile} was modified during the run`
          : writtenFile
            ? `readonly file ${writtenFile} was written during the run (its inode, ctime or mtime changed), even if its content is the same again`
            : undefined
    if (gitChanged.length > 0) yield* store.runs.addEvent(context.runId, experiment.stageId, "git-config-restored", `experiment #${experiment.id} changed ${describeGitChanges(gitChanged)}; restored`)
    const status = rejection ? "rejected" : classification.status === "ok" ? "measured" : classification.status
    yield* store.experiments.finishExperiment(experiment.id, {
      status,
      metric: rejection ? null : classification.metric,
      seconds: ending.seconds,
      exitCode: ending.exitCode,
      signal: ending.signal,
      peakMemoryMb: ending.peakMemoryMb,
      logTail: ending.logTail,
      reason: rejection ?? classification.reason,
      env: context.fingerprint,
      diff,
    })
    if (rejection) yield* resetWorktree(context, worktree, base)
    return (yield* store.experiments.getExperiment(experiment.id))!
  })

/** The files the sandbox keeps read-only inside the workspace: readonly files and the worktree's git pointer. */
const readonlyPathsOf = (context: RunnerContext, worktree: Worktree) => [
  ...context.target.readonly.map((file) => path.join(worktree.targetPath, file)),
  path.join(worktree.root, ".git"),
  worktree.gitDir,
  worktree.commonDir,
]

export const runExperiment = (context: RunnerContext, experiment: Experiment, placement: RunPlacement): Effect.Effect<Experiment, WorkspaceError, Store | Workspace | Executor> =>
  Effect.gen(function* () {
    const store = yield* Store
    const executor = yield* Executor
    const { worktree, slot } = placement
    const base = experiment.baseCommit ?? context.setup.baseCommit
    const logPath = path.join(context.logDir, `experiment-${experiment.id}.log`)
    const scanner = metricScanner(context.target.metric)
    const spec = {
      runId: context.runId,
      experimentId: experiment.id,
      cwd: worktree.targetPath,
      readonlyPaths: readonlyPathsOf(context, worktree),
      command: context.target.command,
      env: {
        ...context.target.env,
        TWOLOOP_TIME_BUDGET: String(experiment.timeBudget),
        TWOLOOP_SEED: String(experiment.seed),
        TWOLOOP_TARGET_DIR: context.target.dir,
      },
      slot,
      hardLimitSeconds: hardLimitSeconds(experiment.timeBudget, context.limits),
      killGraceSeconds: context.limits.killGraceSeconds,
      logPath,
      onStdoutLine: scanner.push,
      onStarted: (started: { readonly pid: number | null; readonly host: string; readonly jobId: string | null }) =>
        store.experiments.markExperimentRunning(experiment.id, { pid: started.pid, host: started.host, jobId: started.jobId, logPath }).pipe(Effect.andThen(failpoint("experiment-running"))),
    }

    // A cluster job submitted by a run that died: follow it to its end instead of running the edit again.
    if (experiment.status === "running" && experiment.jobId && executor.attach) {
      const ending = yield* executor.attach(spec, experiment.jobId)
      const diff = experiment.edit ? yield* diffOfEdit(context, experiment.edit, base) : experiment.diff
      if (ending === null) {
        yield* resetWorktree(context, worktree, base)
        yield* store.experiments.finishExperiment(experiment.id, { status: "crash", reason: `lost: SLURM job ${experiment.jobId} is unknown to the cluster and left no exit record`, diff, seconds: 0 })
        return (yield* store.experiments.getExperiment(experiment.id))!
      }
      return yield* recordEnding(context, experiment, worktree, base, ending, scanner, diff)
    }

    yield* cleanWorktree(context, worktree, base)

    let diff: string | null = experiment.diff
    if (experiment.edit) {
      const applied = yield* applyEditGuarded(context, worktree, experiment.edit, base)
      if (!applied.ok) {
        yield* store.experiments.finishExperiment(experiment.id, { status: "rejected", reason: applied.reason, diff: applied.diff, seconds: 0 })
        return (yield* store.experiments.getExperiment(experiment.id))!
      }
      diff = applied.diff
    }
    const drifted = readonlyDrift(context, worktree)
    if (drifted) {
      yield* resetWorktree(context, worktree, base)
      yield* store.experiments.finishExperiment(experiment.id, { status: "rejected", reason: `readonly file ${drifted} differs from the run start`, diff, seconds: 0 })
      return (yield* store.experiments.getExperiment(experiment.id))!
    }

    // A metric file left by an earlier run (git clean keeps ignored files) must not count for this one.
    if (context.target.metric.file !== undefined) fs.rmSync(path.join(worktree.targetPath, context.target.metric.file), { force: true })
    const workspace = yield* Workspace
    const readonlyBefore = readonlyIdentities(context, worktree)
    const gitBefore = yield* workspace.gitState(worktree)
    const ending = yield* executor.run(spec).pipe(Effect.onInterrupt(() => store.experiments.requeueExperiment(experiment.id)))
    // Before any git command runs in this worktree again: put back what the experiment did to git's files.
    const gitChanged = yield* workspace.restoreGitState(gitBefore)
    yield* failpoint("experiment-ended")
    return yield* recordEnding(context, experiment, worktree, base, ending, scanner, diff, { readonlyBefore, gitChanged })
  }).pipe(Effect.withSpan("CodeSearch.runExperiment"))
