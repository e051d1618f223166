/**
 * Tunables kept as argparse defaults: `parser.add_argument("--learning-rate", type=float, default=3e-4)`
 * in Python files. The name is the argument's dest (`learning_rate`); its option strings are the flags a
 * command can set it with. `type=` is respected (`type=float` with `default=1` moves to fractions,
 * `type=int` stays integral, a string default of a numeric type is a number written in quotes);
 * `choices=` are the alternatives (a numeric argument with choices moves among them only); a string
 * default without choices takes alternatives from its help text when it lists them ("one of: a, b").
 * Arguments with `nargs`, positionals, and defaults that are not literals are skipped. A dest that
 * `set_defaults(...)` also sets is reported as overridden. Pure.
 */
import type { Tunable, TunableValue } from "./index.ts"
import { formatNumber } from "./index.ts"
import { alternativesFromComment } from "./constants.ts"
import { callArguments, lineOf, maskPython, parseNumberText, parsePythonLiteral, type PythonLiteral } from "./python.ts"
import { spanChange } from "./spanChange.ts"
import type { SourceFindings } from "./sources.ts"

const destOf = (flags: ReadonlyArray<string>, dest: string | undefined): string | undefined => {
  if (dest !== undefined) return dest
  const long = flags.find((flag) => flag.startsWith("--"))
  const chosen = long ?? flags.find((flag) => /^-[^-]/.test(flag))
  return chosen?.replace(/^-+/, "").replace(/-/g, "_")
}

const quoted = (literal: PythonLiteral | undefined) => (literal?.kind === "string" ? literal.value : undefined)

const choiceText = (literal: PythonLiteral) => (literal.kind === "string" ? literal.value : literal.kind === "number" || literal.kind === "boolean" ? literal.text : undefined)

export const findArgparseDefaults = (file: string, content: string): SourceFindings => {
  if (!/\.py$/.test(file) || !content.includes("add_argument")) return { tunables: [], overridden: [] }
  const masked = maskPython(content)
  const found: Array<Tunable> = []
  for (const match of masked.matchAll(/\.add_argument\s*\(/g)) {
    const open = match.index! + match[0].length - 1
    const call = callArguments(content, masked, open)
    if (!call) continue
    const flags: Array<string> = []
    const keywords = new Map<string, (typeof call.args)[number]>()
    for (const arg of call.args) {
      if (arg.keyword === undefined) {
        const flag = quoted(parsePythonLiteral(arg.text))
        if (flag !== undefined) flags.push(flag)
      } else keywords.set(arg.keyword, arg)
    }
    const defaultArg = keywords.get("default")
    if (!defaultArg || flags.length === 0 || !flags.every((flag) => flag.startsWith("-")) || keywords.has("nargs")) continue
    const action = quoted(parsePythonLiteral(keywords.get("action")?.text ?? "")) ?? "store"
    if (!["store", "store_true", "store_false", "BooleanOptionalAction"].includes(action) && !/BooleanOptionalAction$/.test(keywords.get("action")?.text ?? "")) continue
    const name = destOf(flags, quoted(parsePythonLiteral(keywords.get("dest")?.text ?? "")))
    if (name === undefined || !/^[A-Za-z_]\w*$/.test(name)) continue
    const literal = parsePythonLiteral(defaultArg.text)
    if (!literal || literal.kind === "none" || literal.kind === "list") continue
    const type = keywords.get("type")?.text.trim()
    const choices = keywords.get("choices") ? parsePythonLiteral(keywords.get("choices")!.text) : undefined
    const choiceList = choices?.kind === "list" ? choices.items.map(choiceText).filter((c): c is string => c !== undefined) : []

    let value: TunableValue
    let format: (next: number | boolean | string) => string
    let alternatives: Array<string> = []
    let quote = ""
    const plain = literal.kind === "string" ? literal.value : literal.text
    if (choiceList.length > 0) {
      // A value among the choices: written back the way the default is written (quoted or not).
      value = { kind: "string", value: plain, text: literal.text }
      alternatives = choiceList.filter((choice) => choice !== plain)
      format = (next) => (literal.kind === "string" ? `${literal.quote}${String(next)}${literal.quote}` : String(next))
    } else if (literal.kind === "boolean") {
      value = { kind: "boolean", value: literal.value, text: literal.text }
      format = (next) => (next ? "True" : "False")
    } else if (literal.kind === "number" || (literal.kind === "string" && (type === "int" || type === "float") && parseNumberText(literal.value))) {
      const number = literal.kind === "number" ? literal : { ...parseNumberText(literal.value)!, text: literal.value }
      const integer = type === "float" ? false : type === "int" ? true : number.integer
      // The value text is the bare number (the move engine computes with it); a quoted default keeps its quotes.
      value = { kind: "number", value: number.value, integer, text: number.text }
      format = (next) => formatNumber(next as number, value as TunableValue & { kind: "number" })
      if (literal.kind === "string") quote = literal.quote
    } else if (literal.kind === "string") {
      value = { kind: "string", value: literal.value, text: literal.text }
      const help = quoted(parsePythonLiteral(keywords.get("help")?.text ?? ""))
      if (help !== undefined && /(one of|options|choices|alternatives)/i.test(help)) alternatives = alternativesFromComment(help).filter((alt) => alt !== literal.value)
      format = (next) => `${literal.quote}${String(next)}${literal.quote}`
    } else continue
    const { start, end } = defaultArg
    found.push({
      file,
      name,
      source: "argparse",
      line: lineOf(content, start) + 1,
      flags,
      value,
      alternatives,
      format,
      change: (text) => spanChange(file, content, start, end, quote && !text.startsWith(quote) ? `${quote}${text}${quote}` : text),
    })
  }
  // `parser.set_defaults(lr=0.1)` wins over `add_argument(..., default=...)`.
  const setLater = new Map<string, number>()
  for (const match of masked.matchAll(/\.set_defaults\s*\(/g)) {
    const call = callArguments(content, masked, match.index! + match[0].length - 1)
    for (const arg of call?.args ?? []) if (arg.keyword !== undefined) setLater.set(arg.keyword, lineOf(content, arg.start) + 1)
  }
  return {
    tunables: found.filter((t) => !setLater.has(t.name)),
    overridden: found.filter((t) => setLater.has(t.name)).map((tunable) => ({ tunable, overridden: true, reason: `set_defaults(${tunable.name}=...) at line ${setLater.get(tunable.name)} overrides it` })),
  }
}
