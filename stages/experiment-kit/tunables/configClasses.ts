/**
 * Tunables kept as fields of config classes in Python: `@dataclass` (or attrs, pydantic `BaseModel`,
 * `NamedTuple`) classes, and plain classes named like a config (`...Config`, `...Args`, `...Params`,
 * `...Hparams`, `...Settings`, `...Options`), whose class-level fields have literal defaults:
 * `n_embd: int = 64`, `dropout = 0.1`, `lr: float = field(default=3e-4)`. The name is `Class.field`.
 * Alternatives of a string come from the line's trailing comment, as for constants. A field that a call
 * of the class sets (`ModelConfig(n_layer=args.n_layer)`, a positional argument, or `**kwargs`) is
 * reported as overridden: editing its default could not take effect. Pure.
 */
import type { Tunable, TunableValue } from "./index.ts"
import { formatNumber } from "./index.ts"
import { alternativesFromComment } from "./constants.ts"
import { callArguments, lineOf, maskPython, parsePythonLiteral } from "./python.ts"
import { spanChange } from "./spanChange.ts"
import type { SetAside, SourceFindings } from "./sources.ts"

const configDecorator = /^@(?:[\w.]*\.)?(dataclass|define|frozen|attrs|s|mutable)\b/
const configBase = /\b(BaseModel|BaseSettings|NamedTuple)\b/
const configName = /(Config|Configuration|Args|Arguments|Params|Parameters|Hparams|HParams|HyperParameters|Hyperparameters|Settings|Options)$/

interface Field {
  readonly tunable: Tunable
  readonly field: string
}

interface ConfigClass {
  readonly name: string
  /** Every class-level field in declaration order (with or without a usable default). */
  readonly order: ReadonlyArray<string>
  readonly fields: ReadonlyArray<Field>
}

const indentOf = (line: string) => line.length - line.trimStart().length

const fieldLine = /^([A-Za-z_]\w*)\s*(?::\s*[^=]+?)?\s*=(?!=)\s*(.+)$/
const annotationOnly = /^([A-Za-z_]\w*)\s*:\s*[^=]+$/

/** Splits the trailing `# comment` off a line; the mask blanks comments, so code ends where the masked line does. */
const splitComment = (line: string, maskedLine: string): { code: string; comment: string } => {
  const codeEnd = maskedLine.trimEnd().length
  const rest = line.slice(codeEnd).trim()
  return rest.startsWith("#") ? { code: line.slice(0, codeEnd), comment: rest.slice(1).trim() } : { code: line, comment: "" }
}

const findClasses = (file: string, content: string, masked: string): Array<ConfigClass> => {
  const lines = content.split("\n")
  const maskedLines = masked.split("\n")
  const offsets: Array<number> = []
  let offset = 0
  for (const line of lines) {
    offsets.push(offset)
    offset += line.length + 1
  }
  const classes: Array<ConfigClass> = []
  for (const [index, maskedLine] of maskedLines.entries()) {
    const header = /^(\s*)class\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:\s*$/.exec(maskedLine.trimEnd())
    if (!header) continue
    const indent = header[1]!.length
    const name = header[2]!
    const decorators: Array<string> = []
    for (let above = index - 1; above >= 0 && /^\s*@/.test(maskedLines[above]!); above--) decorators.push(maskedLines[above]!.trim())
    const isConfig = decorators.some((d) => configDecorator.test(d)) || configBase.test(header[3] ?? "") || configName.test(name)
    if (!isConfig) continue
    let bodyIndent: number | undefined
    const order: Array<string> = []
    const fields: Array<Field> = []
    for (let row = index + 1; row < lines.length; row++) {
      const maskedRow = maskedLines[row]!
      if (maskedRow.trim().length === 0) continue
      const rowIndent = indentOf(maskedRow)
      if (rowIndent <= indent) break
      bodyIndent ??= rowIndent
      if (rowIndent !== bodyIndent) continue
      const { code, comment } = splitComment(lines[row]!, maskedRow)
      const text = code.trim()
      const onlyAnnotation = annotationOnly.exec(text)
      if (onlyAnnotation) {
        order.push(onlyAnnotation[1]!)
        continue
      }
      const assignment = fieldLine.exec(text)
      if (!assignment) continue
      const field = assignment[1]!
      order.push(field)
      let valueText = assignment[2]!.trim()
      let valueStart = offsets[row]! + lines[row]!.indexOf(valueText, lines[row]!.indexOf("=") + 1)
      const wrapped = /^(?:dataclasses\.)?field\s*\(/.exec(valueText) ?? /^(?:pydantic\.)?Field\s*\(/.exec(valueText)
      if (wrapped) {
        const open = valueStart + wrapped[0].length - 1
        const call = callArguments(content, masked, open)
        const inner = call?.args.find((arg) => arg.keyword === "default") ?? (wrapped[0].startsWith("Field") ? call?.args.find((arg) => arg.keyword === undefined) : undefined)
        if (!inner) continue
        valueText = inner.text
        valueStart = inner.start
      }
      const literal = parsePythonLiteral(valueText)
      if (!literal || literal.kind === "none" || literal.kind === "list") continue
      const value: TunableValue = literal.kind === "string" ? { kind: "string", value: literal.value, text: literal.text } : literal
      const alternatives = literal.kind === "string" ? alternativesFromComment(comment).filter((alt) => alt !== literal.value) : []
      const start = valueStart
      const end = valueStart + valueText.length
      fields.push({
        field,
        tunable: {
          file,
          name: `${name}.${field}`,
          source: "config class",
          line: row + 1,
          value,
          alternatives,
          format: (next) =>
            literal.kind === "number" ? formatNumber(next as number, literal) : literal.kind === "boolean" ? (next ? "True" : "False") : `${literal.quote}${String(next)}${literal.quote}`,
          change: (text) => spanChange(file, content, start, end, text),
        },
      })
    }
    classes.push({ name, order, fields })
  }
  return classes
}

/** Fields set where the class is called, in any of `files`: field → where. */
const overridesOf = (klass: ConfigClass, files: ReadonlyMap<string, string>): Map<string, string> => {
  const out = new Map<string, string>()
  for (const [file, content] of files) {
    if (!/\.py$/.test(file) || !content.includes(klass.name)) continue
    const masked = maskPython(content)
    for (const match of masked.matchAll(new RegExp(`(?<![\\w.])${klass.name}\\s*\\(`, "g"))) {
      const before = masked.slice(Math.max(0, match.index! - 6), match.index!)
      if (/class\s+$/.test(before)) continue
      const call = callArguments(content, masked, match.index! + match[0].length - 1)
      if (!call) continue
      const where = `${klass.name}(...) at ${file} line ${lineOf(content, match.index!) + 1}`
      let position = 0
      for (const arg of call.args) {
        if (arg.keyword !== undefined) out.set(arg.keyword, `${klass.name}(${arg.keyword}=...) at ${file} line ${lineOf(content, arg.start) + 1}`)
        else if (arg.text.startsWith("**")) for (const field of klass.order) out.set(field, `${klass.name}(${arg.text}) at ${file} line ${lineOf(content, arg.start) + 1} may set it`)
        else if (arg.text.startsWith("*")) for (const field of klass.order.slice(position)) out.set(field, `${where} may set it positionally`)
        else {
          const field = klass.order[position++]
          if (field !== undefined) out.set(field, `${where} sets it positionally`)
        }
      }
    }
  }
  return out
}

/** Config-class fields of one file; `files` (all editable files) are searched for calls that set them. */
export const findConfigClassFields = (file: string, content: string, files: ReadonlyMap<string, string>): SourceFindings => {
  if (!/\.py$/.test(file) || !/\bclass\s/.test(content)) return { tunables: [], overridden: [] }
  const masked = maskPython(content)
  const tunables: Array<Tunable> = []
  const overridden: Array<SetAside> = []
  for (const klass of findClasses(file, content, masked)) {
    const set = overridesOf(klass, files)
    for (const { field, tunable } of klass.fields) {
      const reason = set.get(field)
      if (reason === undefined) tunables.push(tunable)
      else overridden.push({ tunable, overridden: true, reason: `${reason} overrides the default` })
    }
  }
  return { tunables, overridden }
}
