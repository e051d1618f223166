/**
 * Cleaning up after runs: the worktrees, run directories and `twoloop/<run>/...` branches of finished
 * runs. The store keeps every row (reports can be written again); what goes is what lives on disk and in
 * git. Each run's best branch — per arm, the worker-0 branch of its last completed inner stage that kept
 * an edit, which points at that stage's best commit — stays unless `all` is set.
 *
 * Which runs: those named (any status but live), else every completed or failed run (`failed`: only
 * failed ones); interrupted runs are left for `twoloop resume` unless named. A run another process holds
 * (a fresh lock heartbeat) is never touched: clean takes the run's lock while it works. A cleaned run is
 * recorded (a `run-cleaned` event) and cannot be resumed. `dryRun` plans without changing anything.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { RunError } from "../domain/errors.ts"
import type { Run } from "../domain/Run.ts"
import { Store } from "../services/Store.ts"
import { lockOwnerId } from "../services/store/runs.ts"
import { Workspace } from "../services/Workspace.ts"
import { innerSummaryOf, roleOf } from "./StageKind.ts"

export interface CleanOptions {
  readonly runIds: ReadonlyArray<string>
  readonly failed: boolean
  readonly all: boolean
  readonly dryRun: boolean
  /** Seconds without a heartbeat after which a run's lock counts as dead (default 30). */
  readonly lockStaleSeconds?: number
}

export interface CleanedRun {
  readonly runId: string
  readonly status: string
  /** Why nothing was done, when nothing was. */
  readonly skipped?: string
  readonly worktrees: ReadonlyArray<string>
  readonly branches: ReadonlyArray<string>
  readonly kept: ReadonlyArray<string>
  /** Paths removed (the run directory, or its contents but the private repository holding a kept branch). */
  readonly removed: ReadonlyArray<string>
  /** The private repository left in the run directory because it holds a kept branch. */
  readonly keptRepository?: string
}

/** A run's cleaning has been recorded with this event kind. */
export const cleanedEventKind = "run-cleaned"

const slugOf = (stage: { readonly arm: string; readonly name: string }) => (stage.arm === "hybrid" ? stage.name : `${stage.arm}-${stage.name}`)

/** The best branch of each arm: the worker-0 branch of its last completed inner stage that kept something. */
const bestBranches = (runId: string) =>
  Effect.gen(function* () {
    const store = yield* Store
    const stages = yield* store.runs.listStages(runId)
    const keep: Array<string> = []
    for (const arm of [...new Set(stages.map((s) => s.arm))]) {
      const inner = stages.filter((s) => s.arm === arm && s.status === "completed" && roleOf(s.kind) === "inner")
      for (const stage of [...inner].reverse()) {
        const counts = yield* store.experiments.statusCounts({ stageId: stage.id })
        if ((counts.keep ?? 0) === 0) continue
        keep.push(innerSummaryOf(stage)?.branches[0] ?? `twoloop/${runId}/${slugOf(stage)}-w0`)
        break
      }
    }
    return keep
  })

/** The repositories that may hold a run's branches: the target's repository, and the private one in the run directory. */
const repositoriesOf = (run: Run) =>
  Effect.gen(function* () {
    const workspace = yield* Workspace
    const repos: Array<string> = []
    if (fs.existsSync(run.targetDir)) {
      const root = yield* workspace.git(run.targetDir, ["rev-parse", "--show-toplevel"]).pipe(Effect.orElseSucceed(() => null))
      if (root) repos.push(root)
    }
    const own = path.join(run.runDir, "repo")
    if (fs.existsSync(path.join(own, ".git"))) repos.push(own)
    return repos
  })

const within = (dir: string, file: string) => {
  const relative = path.relative(dir, file)
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative))
}

const cleanRun = (run: Run, options: CleanOptions) =>
  Effect.gen(function* () {
    const workspace = yield* Workspace
    const keep = options.all ? [] : yield* bestBranches(run.id)
    const worktrees: Array<string> = []
    const branches: Array<string> = []
    const kept: Array<string> = []
    const keptInPrivateRepo: Array<string> = []
    for (const repo of yield* repositoriesOf(run)) {
      const listing = yield* workspace.git(repo, ["worktree", "list", "--porcelain"]).pipe(Effect.orElseSucceed(() => ""))
      const paths = listing.split("\n").filter((line) => line.startsWith("worktree ")).map((line) => line.slice("worktree ".length))
      const own = paths.filter((worktree) => within(run.runDir, worktree) && path.resolve(worktree) !== path.resolve(repo))
      const refs = (yield* workspace.git(repo, ["for-each-ref", "--format=%(refname:short)", `refs/heads/twoloop/${run.id}/`]).pipe(Effect.orElseSucceed(() => "")))
        .split("\n")
        .filter((ref) => ref.length > 0)
      const drop = refs.filter((ref) => !keep.includes(ref))
      kept.push(...refs.filter((ref) => keep.includes(ref)))
      if (within(run.runDir, repo) && refs.some((ref) => keep.includes(ref))) keptInPrivateRepo.push(repo)
      worktrees.push(...own)
      branches.push(...drop)
      if (options.dryRun) continue
      for (const worktree of own) yield* workspace.git(repo, ["worktree", "remove", "--force", worktree]).pipe(Effect.ignore)
      yield* workspace.git(repo, ["worktree", "prune"]).pipe(Effect.ignore)
      for (const ref of drop) yield* workspace.git(repo, ["branch", "--quiet", "-D", ref])
    }
    // The run directory goes, except a private repository that holds a kept branch.
    const removed: Array<string> = []
    if (fs.existsSync(run.runDir)) {
      if (keptInPrivateRepo.length === 0) removed.push(run.runDir)
      else for (const entry of fs.readdirSync(run.runDir)) if (!keptInPrivateRepo.includes(path.join(run.runDir, entry))) removed.push(path.join(run.runDir, entry))
    }
    if (!options.dryRun) for (const entry of removed) fs.rmSync(entry, { recursive: true, force: true })
    return { runId: run.id, status: run.status, worktrees, branches, kept, removed, ...(keptInPrivateRepo[0] ? { keptRepository: keptInPrivateRepo[0] } : {}) } satisfies CleanedRun
  })

/** The runs to clean, in start order. Fails with a RunError for a named run that is not in the store. */
const selectRuns = (options: CleanOptions) =>
  Effect.gen(function* () {
    const store = yield* Store
    if (options.runIds.length > 0) {
      const runs: Array<Run> = []
      for (const id of options.runIds) {
        const run = yield* store.runs.getRun(id)
        if (!run) return yield* new RunError({ message: `no run ${id} in ${store.file}` })
        runs.push(run)
      }
      return runs
    }
    const ids = yield* store.use((db) => (db.prepare("SELECT id FROM runs ORDER BY started_at, id").all() as Array<{ id: string }>).map((row) => row.id))
    const runs: Array<Run> = []
    for (const id of ids) {
      const run = (yield* store.runs.getRun(id))!
      if (options.failed ? run.status === "failed" : run.status === "completed" || run.status === "failed") runs.push(run)
    }
    return runs
  })

export const cleanRuns = (options: CleanOptions): Effect.Effect<Array<CleanedRun>, RunError, Store | Workspace> =>
  Effect.gen(function* () {
    const store = yield* Store
    const out: Array<CleanedRun> = []
    const owner = lockOwnerId()
    const staleMs = (options.lockStaleSeconds ?? 30) * 1000
    for (const run of yield* selectRuns(options)) {
      const skip = (skipped: string) => out.push({ runId: run.id, status: run.status, skipped, worktrees: [], branches: [], kept: [], removed: [] })
      if (options.dryRun) {
        const lock = yield* store.use((db) => db.prepare("SELECT lock_owner, lock_heartbeat FROM runs WHERE id = ?").get(run.id) as { lock_owner: string | null; lock_heartbeat: number | null })
        if (lock.lock_owner && lock.lock_heartbeat !== null && Date.now() - lock.lock_heartbeat < staleMs) skip(`running (held by ${lock.lock_owner})`)
        else out.push(yield* cleanRun(run, options).pipe(Effect.mapError((error) => new RunError({ message: `cleaning run ${run.id}: ${error.message}` }))))
        continue
      }
      const lock = yield* store.runs.acquireRunLock(run.id, owner, staleMs)
      if (!lock.acquired) {
        skip(`running (held by ${lock.owner}, heartbeat ${Math.round(lock.ageMs / 1000)} s ago)`)
        continue
      }
      const cleaned = yield* cleanRun(run, options).pipe(
        Effect.mapError((error) => new RunError({ message: `cleaning run ${run.id}: ${error.message}` })),
        Effect.ensuring(store.runs.releaseRunLock(run.id, owner)),
      )
      if (cleaned.worktrees.length + cleaned.branches.length + cleaned.removed.length > 0)
        yield* store.runs.addEvent(run.id, null, cleanedEventKind, `cleaned: ${cleaned.worktrees.length} worktrees, ${cleaned.branches.length} branches and the run directory removed${cleaned.kept.length > 0 ? `; kept ${cleaned.kept.join(", ")}` : ""}`, cleaned)
      out.push(cleaned)
    }
    return out
  })
