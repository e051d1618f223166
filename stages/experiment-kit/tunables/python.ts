/**
 * Just enough Python lexing for the tunable sources: a mask that blanks strings and comments (so code
 * patterns are searched in code only, at the original offsets), call-argument splitting that respects
 * brackets and strings, and literal parsing (numbers, booleans, strings, lists/tuples of those). Pure.
 */

/** The source with every string literal's body and every comment replaced by spaces (same length, same offsets). */
export const maskPython = (source: string): string => {
  const out = source.split("")
  let i = 0
  while (i < source.length) {
    const char = source[i]!
    if (char === "#") {
      while (i < source.length && source[i] !== "\n") out[i++] = " "
      continue
    }
    if (char === '"' || char === "'") {
      const triple = source.startsWith(char.repeat(3), i)
      const quote = triple ? char.repeat(3) : char
      i += quote.length
      while (i < source.length && !source.startsWith(quote, i)) {
        if (source[i] === "\\") out[i++] = " "
        if (!triple && source[i] === "\n") break
        if (source[i] !== "\n") out[i] = " "
        i++
      }
      i += quote.length
      continue
    }
    i++
  }
  return out.join("")
}

export interface Argument {
  /** `default` for `default=3`; undefined for a positional argument. */
  readonly keyword: string | undefined
  /** The value text (trimmed) and its offsets in the source. */
  readonly text: string
  readonly start: number
  readonly end: number
}

/**
 * The arguments of the call whose `(` is at `open` in `source` (`masked` is `maskPython(source)`), split at
 * top-level commas; undefined when the parenthesis is never closed.
 */
export const callArguments = (source: string, masked: string, open: number): { readonly args: Array<Argument>; readonly close: number } | undefined => {
  const args: Array<Argument> = []
  let depth = 0
  let from = open + 1
  const push = (to: number) => {
    const raw = source.slice(from, to)
    const lead = raw.length - raw.trimStart().length
    const text = raw.trim()
    if (text.length === 0) return
    const start = from + lead
    const keyword = /^([A-Za-z_]\w*)\s*=(?!=)\s*/.exec(text)
    if (keyword) args.push({ keyword: keyword[1]!, text: text.slice(keyword[0].length), start: start + keyword[0].length, end: start + text.length })
    else args.push({ keyword: undefined, text, start, end: start + text.length })
  }
  for (let i = open; i < masked.length; i++) {
    const char = masked[i]!
    if (char === "(" || char === "[" || char === "{") depth++
    else if (char === ")" || char === "]" || char === "}") {
      depth--
      if (depth === 0) {
        push(i)
        return { args, close: i }
      }
    } else if (char === "," && depth === 1) {
      push(i)
      from = i + 1
    }
  }
  return undefined
}

export type PythonLiteral =
  | { readonly kind: "number"; readonly value: number; readonly integer: boolean; readonly text: string }
  | { readonly kind: "boolean"; readonly value: boolean; readonly text: string }
  | { readonly kind: "string"; readonly value: string; readonly quote: string; readonly text: string }
  | { readonly kind: "none"; readonly text: string }
  | { readonly kind: "list"; readonly items: ReadonlyArray<PythonLiteral>; readonly text: string }

const numberText = /^[-+]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?$/

/** A number written the way Python (and YAML, JS) write one; undefined otherwise. */
export const parseNumberText = (text: string): { value: number; integer: boolean } | undefined => {
  if (!numberText.test(text)) return undefined
  const value = Number(text.replace(/_/g, ""))
  return Number.isFinite(value) ? { value, integer: /^[-+]?[\d_]+$/.test(text) } : undefined
}

/** A Python literal: number, True/False, None, a simple (non-f, non-bytes) string, or a list/tuple of literals. */
export const parsePythonLiteral = (text: string): PythonLiteral | undefined => {
  const trimmed = text.trim()
  const number = parseNumberText(trimmed)
  if (number) return { kind: "number", ...number, text: trimmed }
  if (trimmed === "True" || trimmed === "False") return { kind: "boolean", value: trimmed === "True", text: trimmed }
  if (trimmed === "None") return { kind: "none", text: trimmed }
  const quoted = /^([rRuU]?)(["'])((?:\\.|(?!\2)[^\\\n])*)\2$/.exec(trimmed)
  if (quoted) return { kind: "string", value: quoted[3]!, quote: quoted[2]!, text: trimmed }
  const bracket = /^[[(]([\s\S]*)[\])]$/.exec(trimmed)
  if (bracket && (trimmed[0] === "[") === (trimmed.at(-1) === "]")) {
    const inner = bracket[1]!
    const masked = maskPython(`(${inner})`)
    const parts = callArguments(`(${inner})`, masked, 0)
    if (!parts || parts.args.some((arg) => arg.keyword !== undefined)) return undefined
    const items: Array<PythonLiteral> = []
    for (const arg of parts.args) {
      const item = parsePythonLiteral(arg.text)
      if (!item || item.kind === "list") return undefined
      items.push(item)
    }
    return { kind: "list", items, text: trimmed }
  }
  return undefined
}

/** The 0-based line number of an offset. */
export const lineOf = (source: string, offset: number): number => {
  let line = 0
  for (let i = 0; i < offset && i < source.length; i++) if (source[i] === "\n") line++
  return line
}
