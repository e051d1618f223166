/**
 * Finding the tunable constants of a training file: top-level UPPER_CASE assignments of numbers, booleans
 * or string literals in Python and JS/TS, with string alternatives read from the line's trailing comment
 * (`# one of: "adamw", "sgd"`). Pure; also renders a changed assignment line.
 */

export type ConstantValue =
  | { readonly kind: "number"; readonly value: number; readonly integer: boolean; readonly text: string }
  | { readonly kind: "boolean"; readonly value: boolean; readonly text: string }
  | { readonly kind: "string"; readonly value: string; readonly quote: string; readonly text: string }

export interface TunableConstant {
  readonly file: string
  readonly name: string
  readonly line: number
  /** The whole source line, as the search text of an edit. */
  readonly source: string
  readonly value: ConstantValue
  /** Other values a string constant may take (from the comment), excluding the current one. */
  readonly alternatives: ReadonlyArray<string>
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

export const findConstants = (file: string, content: string): Array<TunableConstant> => {
  const language = languageOf(file)
  if (!language) return []
  const out: Array<TunableConstant> = []
  const lines = content.split("\n")
  for (const [index, source] of lines.entries()) {
    const match = (language === "python" ? pythonLine : jsLine).exec(source)
    if (!match) continue
    const { value: valueText, comment } = splitComment(match[3]!, language)
    const value = parseValue(valueText, language)
    if (!value) continue
    const valueStart = source.indexOf(valueText, source.indexOf("=") + 1)
    const alternatives = value.kind === "string" ? alternativesFromComment(comment).filter((alt) => alt !== value.value) : []
    out.push({ file, name: match[1]!, line: index, source, value, alternatives, language, valueStart, valueEnd: valueStart + valueText.length })
  }
  return out
}

/** Formats a number like the original: integers stay integers, exponent notation stays exponent notation. */
export const formatNumber = (value: number, like: ConstantValue & { kind: "number" }): string => {
  if (like.integer) return String(Math.round(value))
  if (/[eE]/.test(like.text)) {
    const [mantissa, exponent] = value.toExponential(2).split("e")
    return `${Number(mantissa)}e${Number(exponent)}`
  }
  const fixed = Number(value.toPrecision(3))
  const text = String(fixed)
  return text.includes(".") || text.includes("e") ? text : `${text}.0`
}

export const renderValue = (constant: TunableConstant, next: string | number | boolean): string => {
  const value = constant.value
  if (value.kind === "number") return formatNumber(next as number, value)
  if (value.kind === "boolean") return constant.language === "python" ? (next ? "True" : "False") : next ? "true" : "false"
  return `${value.quote}${String(next)}${value.quote}`
}

/** The source line with the constant's value replaced. */
export const replaceValue = (constant: TunableConstant, nextText: string): string =>
  `${constant.source.slice(0, constant.valueStart)}${nextText}${constant.source.slice(constant.valueEnd)}`

/** A stable signature of all constant values: "the point" the search is at. */
export const pointSignature = (constants: ReadonlyArray<TunableConstant>): string =>
  constants.map((c) => `${c.file}:${c.name}=${c.value.text}`).join(";")
