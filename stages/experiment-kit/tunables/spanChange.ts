/**
 * Writing a new value where a source found the old one: the smallest run of whole lines around the value
 * span that occurs exactly once in the file becomes the search text of a replace, so the edit is minimal,
 * readable in a diff, and applies only where it was meant to. Pure.
 */
import type { FileChange } from "../../../src/domain/Edit.ts"

const occurrences = (text: string, search: string) => {
  let count = 0
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + 1)) count += 1
  return count
}

/** The replace that turns `content[start, end)` into `next`, with a search text unique in `content`. */
export const spanChange = (file: string, content: string, start: number, end: number, next: string): FileChange => {
  let from = content.lastIndexOf("\n", start - 1) + 1
  let to = content.indexOf("\n", end)
  if (to === -1) to = content.length
  // Grow by whole lines, alternating above and below, until the search text is unique (the whole file is).
  let above = true
  while (occurrences(content, content.slice(from, to)) !== 1 && (from > 0 || to < content.length)) {
    if ((above && from > 0) || to >= content.length) from = content.lastIndexOf("\n", from - 2) + 1
    else {
      const next = content.indexOf("\n", to + 1)
      to = next === -1 ? content.length : next
    }
    above = !above
  }
  const search = content.slice(from, to)
  return { path: file, kind: "replace", search, replace: `${content.slice(from, start)}${next}${content.slice(end, to)}` }
}
