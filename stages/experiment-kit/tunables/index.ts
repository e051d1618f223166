/**
 * Tunables: the values of the editable files a search can move without understanding the code (numbers,
 * booleans, strings with known alternatives), wherever a training script keeps them. Each source module
 * finds its own kind (`constants.ts`: top-level UPPER_CASE assignments in Python and JS/TS) and says how to
 * write a new value back as a FileChange; everything above this module (the move engine, the outer stage's
 * evidence, the agent prompt) works on the generic `Tunable`. Pure.
 */
import type { FileChange } from "../../../src/domain/Edit.ts"
import { applyChanges } from "../edits.ts"
import { findConstants } from "./constants.ts"

export type TunableValue =
  | { readonly kind: "number"; readonly value: number; readonly integer: boolean; readonly text: string }
  | { readonly kind: "boolean"; readonly value: boolean; readonly text: string }
  | { readonly kind: "string"; readonly value: string; readonly text: string }

export interface Tunable {
  readonly file: string
  /** Unique among the tunables of one file set, e.g. `LEARNING_RATE`. */
  readonly name: string
  /** Where it was found, for listings: e.g. "constant". */
  readonly source: string
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

/** Every tunable of the files (path → content), files in name order, each file's tunables in source order. */
export const findTunables = (files: ReadonlyMap<string, string>): Array<Tunable> =>
  [...files.entries()].sort(([a], [b]) => a.localeCompare(b)).flatMap(([file, content]) => findConstants(file, content))

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
