/**
 * The tunables of a configured target as its files are on disk: the editable files' contents and the
 * context their values are overridden in (the command, and the shell scripts it runs from the target
 * directory). Used before a run (pre-flight checks, doctor) and to build the context stages search in.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResolvedTarget } from "../../../src/config.ts"
import type { PreflightFinding } from "../../../src/pipeline/StageKind.ts"
import { scriptsOf } from "./command.ts"
import { inspectTunables, isMovable, type Tunable, type TunableContext, type TunableInspection, tunableKinds } from "./index.ts"

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

/**
 * What the tunables of a target mean for a stage about to run: a warning for each tunable the command
 * sets (it is left alone), an error when the offline proposer would have nothing to move, and a note
 * listing what will be searched.
 */
export const tunableFindings = (target: Pick<ResolvedTarget, "dir" | "editable" | "command">, offline: boolean): Array<PreflightFinding> => {
  const inspection = inspectTargetTunables(target)
  const findings: Array<PreflightFinding> = []
  for (const aside of inspection.setAside.filter((s) => s.command !== undefined))
    findings.push({
      level: "warning",
      message: `${aside.tunable.name} (${aside.tunable.file}:${aside.tunable.line}, ${aside.tunable.source}) is set by target.command (${aside.command}); twoloop does not edit it. Remove the flag from the command to let it be tuned`,
    })
  const movable = inspection.tunables.filter(isMovable)
  // A line, not a page: the first 30, then a count.
  const shown = (list: ReadonlyArray<string>) => (list.length > 30 ? `${list.slice(0, 30).join(", ")}, … and ${list.length - 30} more` : list.join(", "))
  const names = (list: ReadonlyArray<Tunable>) => shown(list.map((t) => `${t.name}=${t.value.text}`))
  if (offline && movable.length === 0) {
    const found = inspection.tunables.length > 0 ? `; found only values it cannot move (${names(inspection.tunables)}: strings need alternatives, e.g. a "# one of: a, b" comment or choices=)` : ""
    const aside = inspection.setAside.length > 0 ? `; set aside: ${shown(inspection.setAside.map((s) => `${s.tunable.name} (${s.reason})`))}` : ""
    findings.push({
      level: "error",
      message: `target.editable: nothing to tune offline in ${target.editable.join(", ")}: looked for ${tunableKinds}${found}${aside}. Add one, or set model to an LLM so an agent edits the code`,
    })
  } else if (inspection.tunables.length > 0) {
    const aside = inspection.setAside.length > 0 ? `; set aside ${inspection.setAside.length}: ${shown(inspection.setAside.map((s) => s.tunable.name))}` : ""
    findings.push({ level: "note", message: `tunables in ${target.editable.join(", ")} (${inspection.tunables.length}): ${names(inspection.tunables)}${aside}` })
  }
  return findings
}
