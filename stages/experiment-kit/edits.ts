/**
 * Applying an Edit to file contents and checking its scope, without touching the disk. A search text must
 * occur exactly once; paths must name editable files and stay inside the target (no absolute paths, no
 * `..`). Seed-only edits are refused: the harness owns the seed. Pure.
 */
import * as path from "node:path"
import type { Edit, FileChange } from "../../src/domain/Edit.ts"

export type EditCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** Normalises an edit path; undefined when it is absolute or escapes the target. */
export const normalizeEditPath = (file: string): string | undefined => {
  if (file.length === 0 || path.isAbsolute(file) || file.includes("\0")) return undefined
  const normalized = path.posix.normalize(file.replace(/\\/g, "/"))
  if (normalized === ".." || normalized.startsWith("../") || normalized.startsWith("/")) return undefined
  return normalized.replace(/^\.\//, "")
}

export const checkScope = (edit: Edit, editable: ReadonlyArray<string>, readonly: ReadonlyArray<string>): EditCheck => {
  if (edit.changes.length === 0) return { ok: false, reason: "the edit changes no file" }
  const allowed = new Set(editable.map((file) => normalizeEditPath(file)))
  const locked = new Set(readonly.map((file) => normalizeEditPath(file)))
  for (const change of edit.changes) {
    const normalized = normalizeEditPath(change.path)
    if (normalized === undefined) return { ok: false, reason: `path ${JSON.stringify(change.path)} escapes the target directory` }
    if (locked.has(normalized)) return { ok: false, reason: `${normalized} is a readonly file (the evaluation harness)` }
    if (!allowed.has(normalized)) return { ok: false, reason: `${normalized} is not an editable file (editable: ${editable.join(", ")})` }
  }
  return { ok: true }
}

export type ApplyResult = { readonly ok: true; readonly files: ReadonlyMap<string, string> } | { readonly ok: false; readonly reason: string }

const countOccurrences = (text: string, search: string) => {
  let count = 0
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + 1)) count += 1
  return count
}

/** Applies the changes in order to `files` (path → content); returns the new contents of changed files. */
export const applyChanges = (files: ReadonlyMap<string, string>, changes: ReadonlyArray<FileChange>): ApplyResult => {
  const out = new Map<string, string>()
  for (const change of changes) {
    const file = normalizeEditPath(change.path)
    if (file === undefined) return { ok: false, reason: `path ${JSON.stringify(change.path)} escapes the target directory` }
    const current = out.get(file) ?? files.get(file)
    if (change.kind === "rewrite") {
      out.set(file, change.content)
      continue
    }
    if (current === undefined) return { ok: false, reason: `${file} does not exist` }
    if (change.search.length === 0) return { ok: false, reason: `empty search text for ${file}` }
    const count = countOccurrences(current, change.search)
    if (count !== 1) return { ok: false, reason: `search text ${count === 0 ? "not found" : `found ${count} times`} in ${file}` }
    const at = current.indexOf(change.search)
    out.set(file, current.slice(0, at) + change.replace + current.slice(at + change.search.length))
  }
  for (const [file, content] of out) if (content === files.get(file)) out.delete(file)
  if (out.size === 0) return { ok: false, reason: "the edit leaves every file unchanged" }
  return { ok: true, files: out }
}

const changedLines = (before: string, after: string): Array<string> => {
  const a = before.split("\n")
  const b = after.split("\n")
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length - 1
  let endB = b.length - 1
  while (endA >= start && endB >= start && a[endA] === b[endB]) {
    endA--
    endB--
  }
  return [...a.slice(start, endA + 1), ...b.slice(start, endB + 1)]
}

/** True when every changed line is about a seed: such an edit only reshuffles noise. */
export const isSeedOnlyChange = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): boolean => {
  const lines: Array<string> = []
  for (const [file, content] of after) lines.push(...changedLines(before.get(file) ?? "", content))
  const meaningful = lines.filter((line) => line.trim().length > 0)
  return meaningful.length > 0 && meaningful.every((line) => /seed/i.test(line))
}
