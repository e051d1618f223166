/**
 * The git files an experiment could change to make git run its commands later — twoloop's git is protected
 * (see git.ts), but the user's is not: the repository's config and hooks, its worktree's admin files and
 * `.git` pointer, and the user's global config. A snapshot is taken before an experiment runs; afterwards
 * every file that differs is put back as it was (or removed when it did not exist), and the caller records
 * what changed.
 *
 * Contract: plain synchronous filesystem work; `restoreGitState` never throws (a file it cannot restore is
 * reported with the reason).
 */
import * as fs from "node:fs"
import * as path from "node:path"

interface FileState {
  readonly content: Buffer
  readonly mode: number
}

export interface GitStateSnapshot {
  readonly files: ReadonlyMap<string, FileState | null>
  /** Directories whose entries are watched (hooks): files that appear there are removed. */
  readonly dirs: ReadonlyMap<string, ReadonlySet<string>>
}

export interface GitStateLocation {
  readonly commonDir: string
  /** A worktree's admin directory (`<commonDir>/worktrees/<name>`), if any. */
  readonly gitDir?: string
  /** A worktree's root, whose `.git` file points at `gitDir`. */
  readonly workTree?: string
}

const readState = (file: string): FileState | null => {
  try {
    const stat = fs.lstatSync(file)
    if (!stat.isFile()) return null
    return { content: fs.readFileSync(file), mode: stat.mode & 0o7777 }
  } catch {
    return null
  }
}

const globalConfigFiles = () => {
  const home = process.env.HOME
  const xdg = process.env.XDG_CONFIG_HOME || (home ? path.join(home, ".config") : undefined)
  return [...(home ? [path.join(home, ".gitconfig")] : []), ...(xdg ? [path.join(xdg, "git", "config")] : [])]
}

const listDir = (dir: string): Set<string> => {
  try {
    return new Set(fs.readdirSync(dir))
  } catch {
    return new Set()
  }
}

/** What the watched files hold now. */
export const snapshotGitState = (location: GitStateLocation): GitStateSnapshot => {
  const hooks = path.join(location.commonDir, "hooks")
  const watched = [
    path.join(location.commonDir, "config"),
    path.join(location.commonDir, "config.worktree"),
    path.join(location.commonDir, "info", "attributes"),
    ...(location.gitDir ? ["config", "config.worktree", "commondir", "gitdir"].map((name) => path.join(location.gitDir!, name)) : []),
    ...(location.workTree ? [path.join(location.workTree, ".git")] : []),
    ...globalConfigFiles(),
  ]
  const entries = listDir(hooks)
  const files = new Map<string, FileState | null>()
  for (const file of [...watched, ...[...entries].map((name) => path.join(hooks, name))]) files.set(file, readState(file))
  return { files, dirs: new Map([[hooks, entries]]) }
}

const same = (a: FileState | null, b: FileState | null) => (a === null || b === null ? a === b : a.mode === b.mode && a.content.equals(b.content))

export interface RestoredFile {
  readonly file: string
  /** How it had changed: "changed", "created" or "removed"; with `failed` when it could not be put back. */
  readonly change: "changed" | "created" | "removed"
  readonly failed?: string
}

/** Puts every watched file back as it was in `snapshot`; returns what had changed. */
export const restoreGitState = (snapshot: GitStateSnapshot): Array<RestoredFile> => {
  const out: Array<RestoredFile> = []
  const restore = (file: string, before: FileState | null) => {
    const now = readState(file)
    const existsNow = now !== null || fs.existsSync(file)
    if (same(before, now) && (before !== null || !existsNow)) return
    const change = before === null ? "created" : !existsNow ? "removed" : "changed"
    try {
      fs.rmSync(file, { force: true, recursive: true })
      if (before !== null) {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, before.content, { mode: before.mode })
        fs.chmodSync(file, before.mode)
      }
      out.push({ file, change })
    } catch (error) {
      out.push({ file, change, failed: (error as Error).message })
    }
  }
  for (const [file, before] of snapshot.files) restore(file, before)
  for (const [dir, entries] of snapshot.dirs) for (const name of listDir(dir)) if (!entries.has(name)) restore(path.join(dir, name), null)
  return out
}
