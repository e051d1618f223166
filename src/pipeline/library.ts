/**
 * The prompt library across projects: the best evolved candidate of each outer stage is saved with its
 * provenance at the end of a run; entries export to Markdown with front matter (so prompts can live in git
 * and be shared) and import back. Entry ids are content hashes, so saving the same prompt twice is one
 * entry. Parsing and rendering are pure; saving reads the run's rows.
 */
import { Effect } from "effect"
import { parse as parseYaml, stringify as stringifyYaml } from "yaml"
import { sha256 } from "../common/hash.ts"
import { decodeConfigSnapshot } from "../config.ts"
import { bestCandidate, type Components, lineageOf, validationMeans } from "../domain/Candidate.ts"
import type { LibraryEntry } from "../domain/LibraryEntry.ts"
import type { StoreShape } from "../services/Store.ts"
import { reportOf } from "./report/write.ts"

export const entryId = (components: Components) => sha256(JSON.stringify(components)).slice(0, 12)

const begin = (name: string) => `<!-- twoloop:component ${name} -->`
const end = "<!-- twoloop:end -->"

export const renderEntryMarkdown = (entry: LibraryEntry): string => {
  const front = {
    id: entry.id,
    project: entry.project,
    target: entry.target,
    metric: entry.metric,
    direction: entry.direction,
    gain: entry.gain,
    run: entry.runId,
    model: entry.model,
    offline: entry.offline,
    lineage: entry.lineage,
    source: entry.source,
    created: entry.createdAt,
    components: entry.components.map(([name]) => name),
  }
  // Exactly one newline separates each text from its end marker (and is removed again on import), so texts
  // round-trip byte for byte, trailing newlines included.
  const body = entry.components.map(([name, text]) => `## ${name}\n\n${begin(name)}\n${text}\n${end}`).join("\n\n")
  return `---\n${stringifyYaml(front).trimEnd()}\n---\n\n# Evolved prompt ${entry.id} (${entry.project})\n\n${entry.offline ? "Evolved by the offline reflector (no LLM).\n\n" : ""}${body}\n`
}

export type ParsedEntry = { readonly ok: true; readonly entry: LibraryEntry } | { readonly ok: false; readonly message: string }

/** Parses an exported entry; the id is recomputed from the components (edited texts get a new id). */
export const parseEntryMarkdown = (text: string, file: string): ParsedEntry => {
  const fail = (message: string): ParsedEntry => ({ ok: false, message: `${file}: ${message}` })
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text)
  if (!match) return fail("no front matter (the file must start with a --- block)")
  let front: Record<string, unknown>
  try {
    front = (parseYaml(match[1]!) ?? {}) as Record<string, unknown>
  } catch (error) {
    return fail(`front matter is not valid YAML: ${(error as Error).message.split("\n")[0]}`)
  }
  const names = front.components
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === "string"))
    return fail("front matter key components: expected a list of component names")
  const components: Array<readonly [string, string]> = []
  for (const name of names as Array<string>) {
    const start = text.indexOf(begin(name))
    if (start === -1) return fail(`component ${name}: missing its ${begin(name)} block`)
    const from = start + begin(name).length + 1
    const stop = text.indexOf(end, from)
    if (stop === -1) return fail(`component ${name}: missing ${end}`)
    components.push([name, text.slice(from, stop).replace(/\r?\n$/, "")])
  }
  const str = (key: string, fallback: string) => (typeof front[key] === "string" ? (front[key] as string) : fallback)
  return {
    ok: true,
    entry: {
      id: entryId(components),
      project: str("project", "imported"),
      target: str("target", ""),
      metric: str("metric", ""),
      direction: str("direction", "minimize"),
      gain: typeof front.gain === "number" ? front.gain : null,
      runId: typeof front.run === "string" ? front.run : null,
      lineage: Array.isArray(front.lineage) ? front.lineage.map(String) : [],
      model: str("model", "unknown"),
      offline: front.offline === true,
      components,
      source: `imported from ${file}`,
      createdAt: str("created", new Date().toISOString()),
    },
  }
}

export interface SavedPrompts {
  readonly saved: ReadonlyArray<LibraryEntry>
  /** Outer stages whose best candidate evolved nothing (the seed itself, or a library entry as it was). */
  readonly unchanged: ReadonlyArray<{ readonly stage: string; readonly origin: string }>
}

/**
 * Saves the best candidate of each completed outer stage of a run into the library. A best candidate
 * that is a starting point itself (the seed, or a library entry unchanged) is not an evolved prompt and
 * is not saved.
 */
export const saveRunPrompts = (store: StoreShape, library: StoreShape, runId: string): Effect.Effect<SavedPrompts> =>
  Effect.gen(function* () {
    const built = yield* reportOf(store, runId)
    if (!built) return { saved: [], unchanged: [] }
    const { report, data } = built
    const snapshot = decodeConfigSnapshot(data.run.configJson)
    const config = snapshot.ok ? snapshot.config : undefined
    const saved: Array<LibraryEntry> = []
    const unchanged: Array<{ stage: string; origin: string }> = []
    for (const outer of data.outer.filter((o) => o.stage.status === "completed")) {
      const means = validationMeans(outer.evaluations)
      const best = bestCandidate(outer.candidates, means)
      if (!best) continue
      if (best.parents.length === 0) {
        unchanged.push({ stage: outer.stage.name, origin: best.origin })
        continue
      }
      const inner = report.arms[outer.stage.arm] ?? null
      const entry: LibraryEntry = {
        id: entryId(best.components),
        project: data.run.name,
        target: data.run.targetDir,
        metric: config?.target.metric.name ?? "",
        direction: config?.target.metric.direction ?? "minimize",
        gain: inner?.gain ?? null,
        runId,
        lineage: lineageOf(outer.candidates, best.idx).map(String),
        model: config?.reflectionModel ?? "offline",
        offline: best.offline || outer.candidates.some((c) => c.offline),
        components: best.components,
        source: `run ${runId}, stage ${outer.stage.name}, candidate ${best.idx} (val score ${means.get(best.hash)?.toFixed(4) ?? "?"})`,
        createdAt: new Date().toISOString(),
      }
      yield* library.library.putLibraryEntry(entry)
      saved.push(entry)
    }
    return { saved, unchanged }
  })
