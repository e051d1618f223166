/**
 * Tunables kept as constants: top-level UPPER_CASE assignments of numbers, booleans or string literals in
 * Python and JS/TS, with string alternatives read from the line's trailing comment (`# one of: "adamw",
 * "sgd"`). A new value is written by replacing the whole assignment line. Pure.
 */
import type { Tunable, TunableValue } from "./index.ts"
import { formatNumber, wholeLineChange } from "./index.ts"

type ConstantValue = TunableValue | { readonly kind: "string"; readonly value: string; readonly quote: string; readonly text: string }

export interface TunableConstant extends Tunable {
  /** The whole source line, as the search text of an edit. */
  readonly lineText: string
  readonly language: "python" | "js"
  /** Column span of the value text in the line. */
  readonly valueStart: number
  readonly valueEnd: number
}

const pythonLine = /^([A-Z][A-Z0-9_]*)(\s*:\s*[A-Za-z_][\w.\[\], ]*)?\s*=\s*(.+?)\s*$/
const jsLine = /^(?:export\s+)?(?:const|let|var)\s+([A-Z][A-Z0-9_]*)(\s*:\s*[A-Za-z_][\w<>\[\] |]*)?\s*=\s*(.+?)\s*;?\s*$/

const splitComment = (rest: string, language: "python" | "js"): { value: string; comment: string } => {
  const marker = language === "python" ? "#" : "//"
  let quote: string | null = null
  for (let i = 0; i < rest.length; i++) {
    const char = rest[i]!
    if (quote) {
      if (char === "\\") i++
      else if (char === quote) quote = null
    } else if (char === '"' || char === "'" || char === "`") quote = char
    else if (rest.startsWith(marker, i)) return { value: rest.slice(0, i).trim().replace(/;$/, "").trim(), comment: rest.slice(i + marker.length).trim() }
  }
  return { value: rest.trim().replace(/;$/, "").trim(), comment: "" }
}

const numberPattern = /^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$/

const parseValue = (text: string, language: "python" | "js"): ConstantValue | undefined => {
  if (numberPattern.test(text)) {
    const value = Number(text.replace(/_/g, ""))
    if (!Number.isFinite(value)) return undefined
    return { kind: "number", value, integer: /^[-+]?[\d_]+$/.test(text), text }
  }
  const truthy = language === "python" ? "True" : "true"
  const falsy = language === "python" ? "False" : "false"
  if (text === truthy || text === falsy) return { kind: "boolean", value: text === truthy, text }
  const quoted = /^(["'])((?:\\.|(?!\1).)*)\1$/.exec(text)
  if (quoted) return { kind: "string", value: quoted[2]!, quote: quoted[1]!, text }
  return undefined
}

/** Alternatives named in a comment: quoted strings, or a list after "one of", "options", "choices". */
export const alternativesFromComment = (comment: string): Array<string> => {
  const quoted = [...comment.matchAll(/["']([^"']+)["']/g)].map((m) => m[1]!)
  if (quoted.length > 0) return [...new Set(quoted)]
  const listed = /(?:one of|options|choices|alternatives)\s*:?\s*(.+)$/i.exec(comment)
  if (!listed) return []
  return [...new Set(listed[1]!.split(/[,|/]/).map((word) => word.trim()).filter((word) => /^[\w.\-]+$/.test(word)))]
}

export const languageOf = (file: string): "python" | "js" | undefined =>
  /\.py$/.test(file) ? "python" : /\.(mjs|cjs|js|ts|mts|cts)$/.test(file) ? "js" : undefined

const formatIn = (value: ConstantValue, language: "python" | "js") => (next: string | number | boolean): string => {
  if (value.kind === "number") return formatNumber(next as number, value)
  if (value.kind === "boolean") return language === "python" ? (next ? "True" : "False") : next ? "true" : "false"
  const quote = "quote" in value ? value.quote : '"'
  return `${quote}${String(next)}${quote}`
}

/** The assignment line with the constant's value replaced. */
export const replaceValue = (constant: Pick<TunableConstant, "lineText" | "valueStart" | "valueEnd">, nextText: string): string =>
  `${constant.lineText.slice(0, constant.valueStart)}${nextText}${constant.lineText.slice(constant.valueEnd)}`

export const findConstants = (file: string, content: string): Array<TunableConstant> => {
  const language = languageOf(file)
  if (!language) return []
  const out: Array<TunableConstant> = []
  const lines = content.split("\n")
  for (const [index, lineText] of lines.entries()) {
    const match = (language === "python" ? pythonLine : jsLine).exec(lineText)
    if (!match) continue
    const { value: valueText, comment } = splitComment(match[3]!, language)
    const value = parseValue(valueText, language)
    if (!value) continue
    const valueStart = lineText.indexOf(valueText, lineText.indexOf("=") + 1)
    const alternatives = value.kind === "string" ? alternativesFromComment(comment).filter((alt) => alt !== value.value) : []
    const span = { lineText, valueStart, valueEnd: valueStart + valueText.length }
    out.push({
      file,
      name: match[1]!,
      source: "constant",
      line: index + 1,
      ...span,
      value,
      alternatives,
      language,
      format: formatIn(value, language),
      change: (text) => wholeLineChange(file, content, index, lineText, replaceValue(span, text)),
    })
  }
  return out
}
