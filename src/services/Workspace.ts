/**
 * Experiment workspaces: one git worktree per worker on a branch `twoloop/<run-id>/<stage>-w<k>`. When the
 * target lives in a git repository the worktrees come from it, starting at the target's current files (a
 * snapshot commit when it has uncommitted or untracked files), and the user's checkout and index are never
 * touched; otherwise twoloop initialises a private repository in the run directory from a copy.
 *
 * Contract: `setup` is idempotent (resume reuses existing worktrees and branches). Git failures are
 * WorkspaceErrors with git's own message. Commits never depend on the user's git identity or signing setup.
 */
import { Context, Effect, Layer } from "effect"
import { execa } from "execa"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WorkspaceError } from "../domain/errors.ts"

export interface Worktree {
  readonly worker: number
  /** Root of the worktree checkout. */
  readonly root: string
  /** Where the target's files are inside the worktree (root + the target's path in the repository). */
  readonly targetPath: string
  readonly branch: string
}

export interface WorkspaceSetup {
  readonly mode: "git" | "copy"
  /** Repository whose object store holds every commit of the run. */
  readonly repo: string
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
}

export interface StatusEntry {
  readonly code: string
  /** Path relative to the repository root. */
  readonly path: string
}

export interface WorkspaceShape {
  readonly inspectTarget: (targetDir: string) => Effect.Effect<TargetInspection, WorkspaceError>
  readonly setup: (options: SetupOptions) => Effect.Effect<WorkspaceSetup, WorkspaceError>
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
}

const identity = ["-c", "user.name=twoloop", "-c", "user.email=twoloop@localhost", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]

const runGit = (cwd: string, args: ReadonlyArray<string>, strip = true, env: Record<string, string> = {}) =>
  Effect.tryPromise({
    try: () => execa("git", [...identity, ...args], { cwd, reject: false, stripFinalNewline: strip, env: { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...env } }),
    catch: (error) => new WorkspaceError({ message: `git ${args[0]} in ${cwd}: ${String(error)}` }),
  }).pipe(
    Effect.flatMap((result) =>
      result.exitCode === 0
        ? Effect.succeed(String(result.stdout))
        : Effect.fail(new WorkspaceError({ message: `git ${args.join(" ")} failed in ${cwd}: ${String(result.stderr || result.stdout).trim().split("\n")[0]}` })),
    ),
  )

/**
 * A commit holding HEAD plus the target directory's current files — modified and untracked ones too,
 * minus what git ignores — built through a temporary index, so the user's index and checkout are not
 * touched. HEAD itself when the target directory has no changes.
 */
const snapshotCommit = (repo: string, targetSubdir: string, head: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "twoloop-index-"))),
    (dir) =>
      Effect.gen(function* () {
        const env = { GIT_INDEX_FILE: path.join(dir, "index") }
        yield* runGit(repo, ["read-tree", head], true, env)
        yield* runGit(repo, ["add", "--all", "--", targetSubdir === "" ? "." : targetSubdir], true, env)
        const tree = yield* runGit(repo, ["write-tree"], true, env)
        const headTree = yield* runGit(repo, ["rev-parse", `${head}^{tree}`])
        if (tree === headTree) return head
        return yield* runGit(repo, ["commit-tree", tree, "-p", head, "-m", `twoloop: snapshot of ${targetSubdir || "the target"} with its uncommitted changes`])
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
  )

const skippedInCopy = new Set([".git", "node_modules", "__pycache__", ".venv", "venv", ".twoloop", ".mypy_cache", ".pytest_cache"])

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
  const git = (cwd: string, args: ReadonlyArray<string>) => runGit(cwd, args).pipe(Effect.withSpan("Workspace.git"))

  const inspectTarget = (targetDir: string) =>
    Effect.gen(function* () {
      if (!fs.existsSync(targetDir)) return yield* new WorkspaceError({ message: `target directory ${targetDir} does not exist` })
      const root = yield* runGit(targetDir, ["rev-parse", "--show-toplevel"]).pipe(Effect.orElseSucceed(() => null))
      if (root === null) return { repoRoot: null, head: null, dirty: false }
      const head = yield* runGit(targetDir, ["rev-parse", "--verify", "HEAD"]).pipe(Effect.orElseSucceed(() => null))
      if (head === null) return { repoRoot: null, head: null, dirty: false }
      const status = yield* runGit(targetDir, ["status", "--porcelain", "--", "."])
      return { repoRoot: root, head, dirty: status.length > 0 }
    })

  const ensureWorktree = (repo: string, worktreePath: string, branch: string, base: string) =>
    Effect.gen(function* () {
      if (fs.existsSync(path.join(worktreePath, ".git"))) return
      const branchExists = yield* runGit(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false),
      )
      yield* runGit(repo, ["worktree", "prune"])
      fs.mkdirSync(path.dirname(worktreePath), { recursive: true })
      if (branchExists) yield* runGit(repo, ["worktree", "add", "--force", worktreePath, branch])
      else yield* runGit(repo, ["worktree", "add", "--force", "-b", branch, worktreePath, base])
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
          baseCommit = inspection.dirty ? yield* snapshotCommit(repo, targetSubdir, inspection.head) : inspection.head
        } else {
          mode = "copy"
          repo = path.join(options.runDir, "repo")
          targetSubdir = ""
          if (!fs.existsSync(path.join(repo, ".git"))) {
            fs.rmSync(repo, { recursive: true, force: true })
            yield* copyTarget(targetDir, repo)
            yield* runGit(repo, ["init", "--quiet", "--initial-branch=twoloop-base"])
            yield* runGit(repo, ["add", "--all"])
            yield* runGit(repo, ["commit", "--quiet", "--allow-empty", "-m", `twoloop: snapshot of ${targetDir}`])
          }
          baseCommit = yield* runGit(repo, ["rev-parse", "HEAD"])
        }
      }
      const worktrees: Array<Worktree> = []
      for (let worker = 0; worker < options.workers; worker++) {
        const branch = `twoloop/${options.runId}/${options.stageName}-w${worker}`
        const root = path.join(options.runDir, "worktrees", `${options.stageName}-w${worker}`)
        yield* ensureWorktree(repo, root, branch, baseCommit)
        worktrees.push({ worker, root, targetPath: path.join(root, targetSubdir), branch })
      }
      return { mode, repo, targetSubdir, baseCommit, worktrees }
    }).pipe(Effect.withSpan("Workspace.setup"))

  const resetTo = (worktree: Worktree, commit: string) =>
    Effect.gen(function* () {
      yield* runGit(worktree.root, ["reset", "--quiet", "--hard", commit])
      yield* runGit(worktree.root, ["clean", "--quiet", "-d", "--force"])
    })

  const status = (worktree: Worktree) =>
    runGit(worktree.root, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]).pipe(
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
    git,
    readAt: (repo, commit, file) =>
      Effect.gen(function* () {
        const entry = yield* runGit(repo, ["ls-tree", commit, "--", file])
        if (!entry.startsWith("100")) return undefined // absent, a symlink (120000) or a submodule
        return yield* runGit(repo, ["show", `${commit}:${file}`], false)
      }).pipe(Effect.orElseSucceed(() => undefined)),
    resetTo,
    head: (worktree) => runGit(worktree.root, ["rev-parse", "HEAD"]),
    status,
    diff: (worktree) => runGit(worktree.root, ["diff", "--no-color", "--no-ext-diff", "HEAD"]),
    commitPaths: (worktree, paths, message) =>
      Effect.gen(function* () {
        const relative = paths.map((p) => path.join(path.relative(worktree.root, worktree.targetPath), p))
        yield* runGit(worktree.root, ["add", "--", ...relative])
        yield* runGit(worktree.root, ["commit", "--quiet", "--allow-empty", "-m", message])
        return yield* runGit(worktree.root, ["rev-parse", "HEAD"])
      }),
    removeWorktrees: (setup) =>
      Effect.gen(function* () {
        for (const worktree of setup.worktrees) {
          if (fs.existsSync(worktree.root)) yield* runGit(setup.repo, ["worktree", "remove", "--force", worktree.root])
        }
        yield* runGit(setup.repo, ["worktree", "prune"])
      }),
  }
}

export class Workspace extends Context.Service<Workspace, WorkspaceShape>()("twoloop/Workspace") {
  static readonly layer = Layer.succeed(Workspace, makeWorkspace())
}
