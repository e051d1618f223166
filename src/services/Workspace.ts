/**
 * Experiment workspaces: one git worktree per worker on a branch `twoloop/<run-id>/<stage>-w<k>`. When the
 * target lives in a git repository the worktrees come from it, starting at the target's current files (a
 * snapshot commit when it has uncommitted or untracked files), and the user's checkout and index are never
 * touched; otherwise twoloop initialises a private repository in the run directory from a copy (refused for
 * a home directory, `/` or a very large directory unless `copyAnyDir`).
 *
 * Every git command runs through workspace/git.ts: scrubbed environment, no config outside the repository,
 * the git directory recorded at setup, and every command-running setting overridden. `gitState` and
 * `restoreGitState` let the runner undo what an experiment did to git's files (workspace/gitState.ts).
 *
 * Contract: `setup` is idempotent (resume reuses existing worktrees and branches). Git failures are
 * WorkspaceErrors with git's own message. Commits never depend on the user's git identity or signing setup.
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WorkspaceError } from "../domain/errors.ts"
import { copyRefusal, skippedInCopy } from "./workspace/copyTarget.ts"
import { type GitContext, runGit } from "./workspace/git.ts"
import { type GitStateSnapshot, type RestoredFile, restoreGitState, snapshotGitState } from "./workspace/gitState.ts"

export type { GitStateSnapshot, RestoredFile } from "./workspace/gitState.ts"

export interface Worktree {
  readonly worker: number
  /** Root of the worktree checkout. */
  readonly root: string
  /** Where the target's files are inside the worktree (root + the target's path in the repository). */
  readonly targetPath: string
  readonly branch: string
  /** The worktree's admin directory (`<commonDir>/worktrees/<name>`), recorded at setup. */
  readonly gitDir: string
  /** The repository's common git directory. */
  readonly commonDir: string
}

export interface WorkspaceSetup {
  readonly mode: "git" | "copy"
  /** Repository whose object store holds every commit of the run. */
  readonly repo: string
  /** The repository's git directory (of the checkout at `repo`) and its common directory, recorded at setup. */
  readonly gitDir: string
  readonly commonDir: string
  /** The target directory's path relative to the repository root ("" for copy mode). */
  readonly targetSubdir: string
  readonly baseCommit: string
  readonly worktrees: ReadonlyArray<Worktree>
}

export interface TargetInspection {
  readonly repoRoot: string | null
  readonly head: string | null
  readonly dirty: boolean
}

export interface SetupOptions {
  readonly runId: string
  readonly stageName: string
  readonly targetDir: string
  readonly runDir: string
  readonly workers: number
  /** Start from this commit of `repo` (a later code-search stage continuing an earlier one). */
  readonly startCommit?: string
  readonly repo?: string
  /** Copy a target that is not under git even when it is a home directory, `/`, or very large. */
  readonly copyAnyDir?: boolean
}

export interface StatusEntry {
  readonly code: string
  /** Path relative to the repository root. */
  readonly path: string
}

export interface WorkspaceShape {
  readonly inspectTarget: (targetDir: string) => Effect.Effect<TargetInspection, WorkspaceError>
  readonly setup: (options: SetupOptions) => Effect.Effect<WorkspaceSetup, WorkspaceError>
  /** Runs git in the repository that holds `cwd`, hardened like every other git command (used by `twoloop clean`). */
  readonly git: (cwd: string, args: ReadonlyArray<string>) => Effect.Effect<string, WorkspaceError>
  /** A regular file's exact content at a commit (path relative to the repository root); undefined when absent or a symlink. */
  readonly readAt: (repo: string, commit: string, file: string) => Effect.Effect<string | undefined>
  /** `git reset --hard <commit>` plus removal of untracked, non-ignored files. */
  readonly resetTo: (worktree: Worktree, commit: string) => Effect.Effect<void, WorkspaceError>
  readonly head: (worktree: Worktree) => Effect.Effect<string, WorkspaceError>
  /** Changed, added, deleted and untracked (non-ignored) paths, relative to the repository root. */
  readonly status: (worktree: Worktree) => Effect.Effect<ReadonlyArray<StatusEntry>, WorkspaceError>
  readonly diff: (worktree: Worktree) => Effect.Effect<string, WorkspaceError>
  /** Stages exactly `paths` (relative to the target) and commits; returns the new commit. */
  readonly commitPaths: (worktree: Worktree, paths: ReadonlyArray<string>, message: string) => Effect.Effect<string, WorkspaceError>
  readonly removeWorktrees: (setup: WorkspaceSetup) => Effect.Effect<void, WorkspaceError>
  /** The git files an experiment in `worktree` could change to make git run commands (config, hooks, `.git` pointers). */
  readonly gitState: (worktree: Worktree) => Effect.Effect<GitStateSnapshot>
  /** Puts back every such file that changed since `snapshot`; returns what had changed (empty when nothing). */
  readonly restoreGitState: (snapshot: GitStateSnapshot) => Effect.Effect<ReadonlyArray<RestoredFile>>
}

const worktreeContext = (worktree: Worktree, env?: Record<string, string>): GitContext => ({
  cwd: worktree.root,
  gitDir: worktree.gitDir,
  commonDir: worktree.commonDir,
  workTree: worktree.root,
  ...(env ? { env } : {}),
})

/** A repository's git directories, discovered from a directory inside it (before any experiment could touch them). */
const discoverRepository = (dir: string) =>
  Effect.gen(function* () {
    const lines = (yield* runGit({ cwd: dir }, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"])).split("\n")
    return { root: lines[0]!, gitDir: lines[1]!, commonDir: lines[2]! }
  })

/** The admin directory of the worktree checked out at `root`: the one whose `gitdir` file points at `<root>/.git`. */
const worktreeGitDir = (commonDir: string, root: string): string | undefined => {
  const wanted = new Set([path.join(root, ".git"), path.join(fs.realpathSync(root), ".git")])
  const admin = path.join(commonDir, "worktrees")
  for (const name of fs.existsSync(admin) ? fs.readdirSync(admin) : []) {
    const pointer = path.join(admin, name, "gitdir")
    const target = fs.existsSync(pointer) ? fs.readFileSync(pointer, "utf8").trim() : ""
    if (wanted.has(target)) return path.join(admin, name)
  }
  return undefined
}

/**
 * A commit holding HEAD plus the target directory's current files — modified and untracked ones too,
 * minus what git ignores — built through a temporary index, so the user's index and checkout are not
 * touched. HEAD itself when the target directory has no changes.
 */
const snapshotCommit = (repository: { readonly root: string; readonly gitDir: string; readonly commonDir: string }, targetSubdir: string, head: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "twoloop-index-"))),
    (dir) =>
      Effect.gen(function* () {
        const context: GitContext = { cwd: repository.root, gitDir: repository.gitDir, commonDir: repository.commonDir, workTree: repository.root, env: { GIT_INDEX_FILE: path.join(dir, "index") } }
        yield* runGit(context, ["read-tree", head])
        yield* runGit(context, ["add", "--all", "--", targetSubdir === "" ? "." : targetSubdir])
        const tree = yield* runGit(context, ["write-tree"])
        const headTree = yield* runGit(context, ["rev-parse", `${head}^{tree}`])
        if (tree === headTree) return head
        return yield* runGit(context, ["commit-tree", tree, "-p", head, "-m", `twoloop: snapshot of ${targetSubdir || "the target"} with its uncommitted changes`])
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
  )

const copyTarget = (from: string, to: string) =>
  Effect.try({
    try: () =>
      fs.cpSync(from, to, {
        recursive: true,
        filter: (source) => !skippedInCopy.has(path.basename(source)) || source === from,
      }),
    catch: (error) => new WorkspaceError({ message: `cannot copy the target ${from} to ${to}: ${(error as Error).message}` }),
  })

const makeWorkspace = (): WorkspaceShape => {
  /** Git directories of the repositories set up so far, by repository path (readAt takes a path). */
  const repositories = new Map<string, { readonly root: string; readonly gitDir: string; readonly commonDir: string }>()
  const repositoryAt = (repo: string) =>
    Effect.gen(function* () {
      const known = repositories.get(repo)
      if (known) return known
      const found = yield* discoverRepository(repo)
      repositories.set(repo, found)
      return found
    })
  const repoContext = (repository: { readonly root: string; readonly gitDir: string; readonly commonDir: string }): GitContext => ({
    cwd: repository.root,
    gitDir: repository.gitDir,
    commonDir: repository.commonDir,
    workTree: repository.root,
  })

  const inspectTarget = (targetDir: string) =>
    Effect.gen(function* () {
      if (!fs.existsSync(targetDir)) return yield* new WorkspaceError({ message: `target directory ${targetDir} does not exist` })
      const repository = yield* discoverRepository(targetDir).pipe(Effect.orElseSucceed(() => null))
      if (repository === null) return { repoRoot: null, head: null, dirty: false }
      const context = { ...repoContext(repository), cwd: targetDir }
      const head = yield* runGit(context, ["rev-parse", "--verify", "HEAD"]).pipe(Effect.orElseSucceed(() => null))
      if (head === null) return { repoRoot: null, head: null, dirty: false }
      const status = yield* runGit(context, ["status", "--porcelain", "--ignore-submodules=all", "--", "."])
      return { repoRoot: repository.root, head, dirty: status.length > 0 }
    })

  const ensureWorktree = (repository: { readonly root: string; readonly gitDir: string; readonly commonDir: string }, worktreePath: string, branch: string, base: string) =>
    Effect.gen(function* () {
      const context = repoContext(repository)
      if (!fs.existsSync(path.join(worktreePath, ".git")) || worktreeGitDir(repository.commonDir, worktreePath) === undefined) {
        const branchExists = yield* runGit(context, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false),
        )
        yield* runGit(context, ["worktree", "prune"])
        fs.mkdirSync(path.dirname(worktreePath), { recursive: true })
        if (branchExists) yield* runGit(context, ["worktree", "add", "--force", worktreePath, branch])
        else yield* runGit(context, ["worktree", "add", "--force", "-b", branch, worktreePath, base])
      }
      const gitDir = worktreeGitDir(repository.commonDir, worktreePath)
      if (gitDir === undefined) return yield* new WorkspaceError({ message: `git worktree add ${worktreePath} left no admin directory in ${repository.commonDir}/worktrees` })
      return gitDir
    })

  const setup = (options: SetupOptions) =>
    Effect.gen(function* () {
      const targetDir = fs.realpathSync(options.targetDir)
      let mode: "git" | "copy"
      let repo: string
      let targetSubdir: string
      let baseCommit: string
      if (options.repo && options.startCommit) {
        repo = options.repo
        mode = fs.realpathSync(repo).startsWith(fs.realpathSync(options.runDir)) ? "copy" : "git"
        targetSubdir = mode === "copy" ? "" : path.relative(fs.realpathSync(repo), targetDir)
        baseCommit = options.startCommit
      } else {
        const inspection = yield* inspectTarget(targetDir)
        if (inspection.repoRoot !== null && inspection.head !== null) {
          mode = "git"
          repo = inspection.repoRoot
          targetSubdir = path.relative(fs.realpathSync(repo), targetDir)
          baseCommit = inspection.dirty ? yield* snapshotCommit(yield* repositoryAt(repo), targetSubdir, inspection.head) : inspection.head
        } else {
          mode = "copy"
          repo = path.join(options.runDir, "repo")
          targetSubdir = ""
          if (!fs.existsSync(path.join(repo, ".git"))) {
            const refusal = options.copyAnyDir ? undefined : copyRefusal(targetDir)
            if (refusal) return yield* new WorkspaceError({ message: refusal })
            fs.rmSync(repo, { recursive: true, force: true })
            yield* copyTarget(targetDir, repo)
            const gitDir = path.join(repo, ".git")
            yield* runGit({ cwd: repo }, ["init", "--quiet", "--initial-branch=twoloop-base", repo])
            const context: GitContext = { cwd: repo, gitDir, commonDir: gitDir, workTree: repo }
            yield* runGit(context, ["add", "--all"])
            yield* runGit(context, ["commit", "--quiet", "--allow-empty", "-m", `twoloop: snapshot of ${targetDir}`])
          }
          repositories.set(repo, { root: repo, gitDir: path.join(repo, ".git"), commonDir: path.join(repo, ".git") })
          baseCommit = yield* runGit(repoContext(yield* repositoryAt(repo)), ["rev-parse", "HEAD"])
        }
      }
      const repository = yield* repositoryAt(repo)
      const worktrees: Array<Worktree> = []
      for (let worker = 0; worker < options.workers; worker++) {
        const branch = `twoloop/${options.runId}/${options.stageName}-w${worker}`
        const root = path.join(options.runDir, "worktrees", `${options.stageName}-w${worker}`)
        const gitDir = yield* ensureWorktree(repository, root, branch, baseCommit)
        worktrees.push({ worker, root, targetPath: path.join(root, targetSubdir), branch, gitDir, commonDir: repository.commonDir })
      }
      return { mode, repo, gitDir: repository.gitDir, commonDir: repository.commonDir, targetSubdir, baseCommit, worktrees }
    }).pipe(Effect.withSpan("Workspace.setup"))

  const resetTo = (worktree: Worktree, commit: string) =>
    Effect.gen(function* () {
      yield* runGit(worktreeContext(worktree), ["reset", "--quiet", "--hard", commit])
      yield* runGit(worktreeContext(worktree), ["clean", "--quiet", "-d", "--force"])
    })

  const status = (worktree: Worktree) =>
    runGit(worktreeContext(worktree), ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"]).pipe(
      Effect.map((text) => {
        const out: Array<StatusEntry> = []
        const parts = text.split("\u0000").filter((part) => part.length > 0)
        for (let i = 0; i < parts.length; i++) {
          const part = parts[i]!
          const code = part.slice(0, 2)
          out.push({ code, path: part.slice(3) })
          if (code.startsWith("R") || code.startsWith("C")) i += 1 // the original path follows a rename
        }
        return out
      }),
    )

  return {
    inspectTarget,
    setup,
    readAt: (repo, commit, file) =>
      Effect.gen(function* () {
        const context = repoContext(yield* repositoryAt(repo))
        const entry = yield* runGit(context, ["ls-tree", commit, "--", file])
        if (!entry.startsWith("100")) return undefined // absent, a symlink (120000) or a submodule
        return yield* runGit(context, ["cat-file", "blob", `${commit}:${file}`], { strip: false })
      }).pipe(Effect.orElseSucceed(() => undefined)),
    resetTo,
    head: (worktree) => runGit(worktreeContext(worktree), ["rev-parse", "HEAD"]),
    status,
    diff: (worktree) => runGit(worktreeContext(worktree), ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--ignore-submodules=all", "HEAD"]),
    commitPaths: (worktree, paths, message) =>
      Effect.gen(function* () {
        const relative = paths.map((p) => path.join(path.relative(worktree.root, worktree.targetPath), p))
        yield* runGit(worktreeContext(worktree), ["add", "--", ...relative])
        yield* runGit(worktreeContext(worktree), ["commit", "--quiet", "--no-verify", "--allow-empty", "-m", message])
        return yield* runGit(worktreeContext(worktree), ["rev-parse", "HEAD"])
      }),
    removeWorktrees: (setup) =>
      Effect.gen(function* () {
        const context = repoContext(yield* repositoryAt(setup.repo))
        for (const worktree of setup.worktrees) {
          if (fs.existsSync(worktree.root)) yield* runGit(context, ["worktree", "remove", "--force", worktree.root])
        }
        yield* runGit(context, ["worktree", "prune"])
      }),
    git: (cwd, args) =>
      discoverRepository(cwd).pipe(Effect.flatMap((repository) => runGit({ cwd, gitDir: repository.gitDir, commonDir: repository.commonDir, workTree: repository.root }, args))),
    gitState: (worktree) => Effect.sync(() => snapshotGitState({ commonDir: worktree.commonDir, gitDir: worktree.gitDir, workTree: worktree.root })),
    restoreGitState: (snapshot) => Effect.sync(() => restoreGitState(snapshot)),
  }
}

export class Workspace extends Context.Service<Workspace, WorkspaceShape>()("twoloop/Workspace") {
  static readonly layer = Layer.succeed(Workspace, makeWorkspace())
}
