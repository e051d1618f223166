/**
 * Copy mode: a target that is not under git is copied into the run directory and committed to a private
 * repository. A careless `target.dir` (a home directory, `/`, a data directory) would copy and commit far
 * more than the project — `.ssh`, `.aws` — so those are refused unless `target.copyAnyDir` says otherwise.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Directories copy mode leaves out. */
export const skippedInCopy = new Set([".git", "node_modules", "__pycache__", ".venv", "venv", ".twoloop", ".mypy_cache", ".pytest_cache"])

/** Above either, a target that is not under git is refused unless `copyAnyDir` is set. */
export const copyLimits = { bytes: 512 * 1024 * 1024, files: 50_000 }

const real = (dir: string) => {
  try {
    return fs.realpathSync(dir)
  } catch {
    return path.resolve(dir)
  }
}

const isAncestorOrSame = (ancestor: string, dir: string) => dir === ancestor || dir.startsWith(ancestor.endsWith(path.sep) ? ancestor : `${ancestor}${path.sep}`)

/** True when what copy mode would take from `dir` exceeds the limits (stops counting as soon as it does). */
const exceedsLimits = (dir: string): boolean => {
  let bytes = 0
  let files = 0
  const stack = [dir]
  while (stack.length > 0) {
    const current = stack.pop()!
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(current, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      if (skippedInCopy.has(entry.name)) continue
      const full = path.join(current, entry.name)
      if (entry.isDirectory()) stack.push(full)
      else {
        files += 1
        if (entry.isFile()) bytes += fs.statSync(full, { throwIfNoEntry: false })?.size ?? 0
        if (files > copyLimits.files || bytes > copyLimits.bytes) return true
      }
    }
  }
  return false
}

const optIn = "point target.dir at the project's own directory, put the target under git, or set target.copyAnyDir: true"

/** Why copying `dir` (a target not under git) is refused, or undefined when it is fine. */
export const copyRefusal = (dir: string, home = os.homedir()): string | undefined => {
  const target = real(dir)
  const homeDir = real(home)
  if (target === path.parse(target).root) return `target.dir ${dir} is the filesystem root and is not under git: twoloop would copy and commit all of it; ${optIn}`
  if (isAncestorOrSame(target, homeDir))
    return `target.dir ${dir} ${target === homeDir ? "is your home directory" : "contains your home directory"} and is not under git: twoloop would copy and commit all of it (.ssh and .aws included); ${optIn}`
  if (exceedsLimits(target))
    return `target.dir ${dir} is not under git and holds more than ${copyLimits.bytes / 1024 / 1024} MB or ${copyLimits.files} files: twoloop would copy and commit all of it into every run; ${optIn}`
  return undefined
}
