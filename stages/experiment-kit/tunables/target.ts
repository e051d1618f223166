/**
 * The tunables of a configured target as its files are on disk: the editable files' contents and the
 * context their values are overridden in (the command, and the shell scripts it runs from the target
 * directory). Used before a run (pre-flight checks, doctor) and to build the context stages search in.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResolvedTarget } from "../../../src/config.ts"
import { scriptsOf } from "./command.ts"
import { inspectTunables, type TunableContext, type TunableInspection } from "./index.ts"

const readFile = (file: string): string | undefined => {
  try {
    return fs.statSync(file).isFile() ? fs.readFileSync(file, "utf8") : undefined
  } catch {
    return undefined
  }
}

/** The command and the scripts it runs (read from the target directory; scripts that are not there are skipped). */
export const tunableContextOf = (target: Pick<ResolvedTarget, "dir" | "command">): TunableContext => {
  const scripts = new Map<string, string>()
  for (const script of scriptsOf(target.command)) {
    const content = readFile(path.join(target.dir, script))
    if (content !== undefined) scripts.set(script, content)
  }
  return { command: target.command, scripts }
}

/** The editable files that exist on disk: path → content. */
export const readEditableFiles = (target: Pick<ResolvedTarget, "dir" | "editable">): Map<string, string> => {
  const files = new Map<string, string>()
  for (const file of target.editable) {
    const content = readFile(path.join(target.dir, file))
    if (content !== undefined) files.set(path.posix.normalize(file), content)
  }
  return files
}

export const inspectTargetTunables = (target: Pick<ResolvedTarget, "dir" | "editable" | "command">): TunableInspection =>
  inspectTunables(readEditableFiles(target), tunableContextOf(target))
