/**
 * Tunables: the values of the editable files a search can move without understanding the code (numbers,
 * booleans, strings with known alternatives), wherever a training script keeps them. Each source module
 * finds its own kind and says how to write a new value back as a FileChange:
 *  - `constants.ts`: top-level UPPER_CASE assignments in Python and JS/TS;
 *  - `argparse.ts`: `add_argument(..., default=...)` in Python;
 *  - `configClasses.ts`: fields with literal defaults of dataclasses and config classes in Python;
 *  - `configFiles.ts`: numeric, boolean and string leaves of editable YAML and JSON files.
 * Everything above this module (the move engine, the outer stage's evidence, the agent prompt, doctor)
 * works on the generic `Tunable`. A tunable is set aside, never edited, when editing it could not take
 * effect (the target's command sets it with a flag, a call of its config class overrides it) or is not
 * research (seeds, which the harness owns; devices, workers, paths, logging cadence; -1 sentinels).
 * Pure: the command and the scripts it runs come in as data.
 */
import type { FileChange } from "../../../src/domain/Edit.ts"
import { applyChanges } from "../edits.ts"
import { findArgparseDefaults } from "./argparse.ts"
import { argumentsFor, commandWords, flagSetting } from "./command.ts"
import { findConfigClassFields } from "./configClasses.ts"
import { findConfigFileLeaves } from "./configFiles.ts"
import { findConstants } from "./constants.ts"
import type { SetAside } from "./sources.ts"

export type { SetAside } from "./sources.ts"

/**
 * A value: a number, a boolean, or a string chosen among `alternatives` (also a number that `choices=`
 * limits to a list). `text` is the value as written in the file (strings with their quotes).
 */
export type TunableValue =
  | { readonly kind: "number"; readonly value: number; readonly integer: boolean; readonly text: string }
  | { readonly kind: "boolean"; readonly value: boolean; readonly text: string }
  | { readonly kind: "string"; readonly value: string; readonly text: string }

export interface Tunable {
  readonly file: string
  /** Unique among the tunables of one file set, e.g. `LEARNING_RATE`, `learning_rate`, `ModelConfig.n_embd`, `optim.lr`. */
  readonly name: string
  /** Where it was found, for listings: "constant", "argparse", "config class", "yaml", "json". */
  readonly source: string
  /** 1-based line of the value in its file. */
  readonly line: number
  /** Command-line words that set it instead of the file: option strings (`--lr`, `-l`) or `key=` overrides. */
  readonly flags?: ReadonlyArray<string>
  readonly value: TunableValue
  /** Other values a string may take (from a comment, `choices=`...), excluding the current one. */
  readonly alternatives: ReadonlyArray<string>
  /** The value written the way this source writes it (Python `True`, quoted strings...). */
  readonly format: (next: number | boolean | string) => string
  /** The change that sets this tunable to `text` (a value text from `format`): a replace unique in its file. */
  readonly change: (text: string) => FileChange
}

/**
 * A replace of one whole line, with the newlines around it in the search text so that it can match nothing
 * but that line (`LR = 0.1` is also the end of `MAX_LR = 0.1`, and `X = 0.0` the start of `X = 0.001`).
 */
export const wholeLineChange = (file: string, content: string, lineIndex: number, line: string, replacement: string): FileChange => {
  const before = lineIndex > 0 ? "\n" : ""
  const after = content.split("\n").length > lineIndex + 1 ? "\n" : ""
  return { path: file, kind: "replace", search: `${before}${line}${after}`, replace: `${before}${replacement}${after}` }
}


/** How the target runs: the flags of its command override what the files say. */
export interface TunableContext {
  /** `target.command`. */
  readonly command?: string
  /** Shell scripts the command runs from the target directory: path → content. */
  readonly scripts?: ReadonlyMap<string, string>
}

export interface TunableInspection {
  /** What a search may move. */
  readonly tunables: ReadonlyArray<Tunable>
  /** Found but left alone, each with the reason. */
  readonly setAside: ReadonlyArray<SetAside>
}

/** What the sources look for, for messages such as "nothing to tune". */
export const tunableKinds = "UPPER_CASE constants, argparse defaults, dataclass/config-class fields, YAML/JSON leaves"

const notResearch: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|_)seed$/i, "seeds come from the harness (TWOLOOP_SEED)"],
  [/(^|_)(device|devices|gpu|gpus|cuda|num_workers|workers|world_size|local_rank|rank|port)$/i, "hardware and runtime settings are not research"],
  [/(^|_)(dir|path|file|root|wandb\w*|resume|init_from)$/i, "paths and bookkeeping are not research"],
  [/(log|eval|print|save|sample|checkpoint|ckpt)_?(interval|every|freq|frequency|iters|steps)$/i, "logging, evaluation and checkpoint cadence are not research"],
]

const researchProblem = (tunable: Tunable): string | undefined => {
  const bare = tunable.name.split(/[.:]/).at(-1)!
  for (const [pattern, reason] of notResearch) if (pattern.test(bare)) return reason
  if (tunable.value.kind === "number" && tunable.value.integer && tunable.value.value === -1) return "-1 reads as a sentinel (off, unlimited)"
  return undefined
}

/** The tunables of the files (path → content), files in name order, each file's tunables in source order, with the ones set aside. */
export const inspectTunables = (files: ReadonlyMap<string, string>, context: TunableContext = {}): TunableInspection => {
  const ordered = [...files.entries()].sort(([a], [b]) => a.localeCompare(b))
  const found: Array<Tunable> = []
  const setAside: Array<SetAside> = []
  for (const [file, content] of ordered) {
    const sources = [
      { tunables: findConstants(file, content), overridden: [] },
      findArgparseDefaults(file, content),
      findConfigClassFields(file, content, files),
      findConfigFileLeaves(file, content),
    ]
    found.push(...sources.flatMap((source) => source.tunables).sort((a, b) => a.line - b.line))
    setAside.push(...sources.flatMap((source) => source.overridden))
  }
  // Names are unique: the first of a file wins within it; a name found in several files is qualified by its file.
  const seen = new Set<string>()
  const unique = found.filter((t) => (seen.has(`${t.file}\u0000${t.name}`) ? false : (seen.add(`${t.file}\u0000${t.name}`), true)))
  const counts = new Map<string, number>()
  for (const t of unique) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const named = unique.map((t) => ((counts.get(t.name) ?? 0) > 1 ? { ...t, name: `${t.file}:${t.name}` } : t))

  const words = context.command === undefined ? undefined : commandWords(context.command, context.scripts)
  const tunables: Array<Tunable> = []
  for (const tunable of named) {
    const problem = researchProblem(tunable)
    if (problem !== undefined) {
      setAside.push({ tunable, reason: problem, overridden: false })
      continue
    }
    if (words && tunable.flags && tunable.flags.length > 0) {
      const longOptions = named.filter((t) => t.file === tunable.file).flatMap((t) => (t.flags ?? []).filter((f) => f.startsWith("--")))
      const set = flagSetting(argumentsFor(words, tunable.file), tunable.flags, longOptions)
      if (set !== undefined) {
        setAside.push({ tunable, reason: `the command sets it (${set})`, overridden: true, command: set })
        continue
      }
    }
    tunables.push(tunable)
  }
  return { tunables, setAside }
}

/** Every tunable a search may move in the files (see `inspectTunables`). */
export const findTunables = (files: ReadonlyMap<string, string>, context: TunableContext = {}): Array<Tunable> => [...inspectTunables(files, context).tunables]

/** True when the offline move engine has at least one move for it (any number: scaled, or a ladder from 0; a boolean; a string with alternatives). */
export const isMovable = (tunable: Tunable): boolean => tunable.value.kind !== "string" || tunable.alternatives.length > 0

/** One line per tunable for listings: `learning_rate = 5e-4 (train.py:12, argparse --learning-rate)`. */
export const describeTunable = (tunable: Tunable): string => {
  const flags = tunable.flags?.filter((f) => f.startsWith("-")) ?? []
  const alternatives = tunable.alternatives.length > 0 ? `; alternatives: ${tunable.alternatives.join(", ")}` : ""
  return `${tunable.name} = ${tunable.value.text} (${tunable.file}:${tunable.line}, ${tunable.source}${flags.length > 0 ? ` ${flags.join("/")}` : ""}${alternatives})`
}

/** Formats a number like the original: integers stay integers, exponent notation stays exponent notation. */
export const formatNumber = (value: number, like: TunableValue & { kind: "number" }): string => {
  if (like.integer) return String(Math.round(value))
  if (/[eE]/.test(like.text)) {
    const [mantissa, exponent] = value.toExponential(2).split("e")
    return `${Number(mantissa)}e${Number(exponent)}`
  }
  const fixed = Number(value.toPrecision(3))
  const text = String(fixed)
  return text.includes(".") || text.includes("e") ? text : `${text}.0`
}

/** A value text without the quotes a source writes strings with (`"adam"` → `adam`). */
export const plainText = (text: string): string => text.replace(/^(["'`])(.*)\1$/s, "$2")

/** A stable signature of all tunable values: "the point" a search is at. */
export const pointSignature = (tunables: ReadonlyArray<Tunable>): string => tunables.map((t) => `${t.file}:${t.name}=${t.value.text}`).join(";")

export interface TunableChange {
  readonly file: string
  readonly name: string
  readonly from: string
  readonly to: string
}

/** The tunables whose values differ between two versions of the files (tunables that appear or vanish are not changes). */
export const tunableChanges = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Array<TunableChange> => {
  const old = new Map(findTunables(before).map((t) => [`${t.file}\u0000${t.name}`, t.value.text]))
  const out: Array<TunableChange> = []
  for (const tunable of findTunables(after)) {
    const from = old.get(`${tunable.file}\u0000${tunable.name}`)
    if (from !== undefined && from !== tunable.value.text) out.push({ file: tunable.file, name: tunable.name, from, to: tunable.value.text })
  }
  return out
}

/** The tunable changes an edit makes to `files` (the files at the edit's base); none when it does not apply. */
export const changesOfEdit = (files: ReadonlyMap<string, string>, changes: ReadonlyArray<FileChange>): Array<TunableChange> => {
  const applied = applyChanges(files, changes)
  if (!applied.ok) return []
  return tunableChanges(files, new Map([...files, ...applied.files]))
}

/**
 * When an edit changes nothing but tunables that something overrides (a flag in the command, a call of
 * their config class), it cannot change what runs: those set-aside tunables, else undefined. `after`
 * holds the edited files' new contents.
 */
export const ineffectiveChanges = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, context: TunableContext = {}): Array<SetAside> | undefined => {
  const overridden = inspectTunables(before, context).setAside.filter((s) => s.overridden)
  if (overridden.length === 0) return undefined
  const merged = new Map([...before, ...after])
  const now = new Map(inspectTunables(merged, context).setAside.map((s) => [`${s.tunable.file}\u0000${s.tunable.name}`, s.tunable]))
  const touched: Array<SetAside> = []
  let reverted: ReadonlyMap<string, string> = merged
  for (const aside of overridden) {
    const current = now.get(`${aside.tunable.file}\u0000${aside.tunable.name}`)
    if (!current || current.value.text === aside.tunable.value.text) continue
    const undone = applyChanges(reverted, [current.change(aside.tunable.value.text)])
    if (!undone.ok) return undefined
    reverted = new Map([...reverted, ...undone.files])
    touched.push(aside)
  }
  if (touched.length === 0) return undefined
  return [...before].every(([file, content]) => reverted.get(file) === content) ? touched : undefined
}
