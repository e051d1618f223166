/**
 * Turns an Effect Schema issue tree into short, path-addressed lines a user can act on:
 * `stages[1].budget.experiments: expected a positive integer, got "ten"`.
 * Decode with `{ errors: "all", onExcessProperty: "error", reportInput: true }` to get the best lines.
 */
import { SchemaAST, type SchemaIssue } from "effect"

export interface IssueLine {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

export const strictParseOptions = {
  errors: "all",
  onExcessProperty: "error",
  reportInput: true,
} as const satisfies SchemaAST.ParseOptions

export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join("")

export const formatIssueLine = (line: IssueLine): string =>
  line.path.length === 0 ? line.message : `${formatPath(line.path)}: ${line.message}`

export const showValue = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (Array.isArray(value)) return "an array"
  if (value === null) return "null"
  if (typeof value === "object") return "an object"
  return String(value)
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`)

/** A short English description of what a schema accepts. */
export const describeAst = (ast: SchemaAST.AST): string => {
  const annotations = ast.annotations as { expected?: string; description?: string } | undefined
  if (annotations?.expected) return annotations.expected
  const checks = ast.checks
  if (checks && checks.length > 0) {
    const last = checks[checks.length - 1]!
    const expected = (last.annotations as { expected?: string } | undefined)?.expected
    if (expected) return expected
  }
  switch (ast._tag) {
    case "String":
      return "a string"
    case "Number":
      return "a number"
    case "Boolean":
      return "true or false"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Objects":
      return ast.propertySignatures.length === 0 && ast.indexSignatures.length > 0 ? "an object (map)" : "an object"
    case "Arrays":
      return "an array"
    case "Undefined":
      return "nothing"
    case "Null":
      return "null"
    case "Union": {
      const members = ast.types.filter((t) => t._tag !== "Undefined").map(describeAst)
      return members.length <= 1 ? (members[0] ?? "a value") : `${members.slice(0, -1).join(", ")} or ${members.at(-1)}`
    }
    default:
      return article(ast._tag.toLowerCase())
  }
}

/** Edit distance where swapping two adjacent letters counts as one edit (optimal string alignment). */
const editDistance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** The closest known name to a misspelt one, if it is close enough to be a likely typo. */
export const suggestName = (name: string, known: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined
}

const inputOf = (issue: SchemaIssue.Issue): { has: boolean; value: unknown } =>
  Object.hasOwn(issue, "input") ? { has: true, value: (issue as { input: unknown }).input } : { has: false, value: undefined }

const expectedGot = (expected: string, issue: SchemaIssue.Issue): string => {
  const input = inputOf(issue)
  return input.has ? `expected ${expected}, got ${showValue(input.value)}` : `expected ${expected}`
}

/** For a union of object schemas sharing a literal key (e.g. `kind`), that key and its allowed values. */
const discriminant = (union: SchemaAST.Union): { key: string; values: Array<unknown> } | undefined => {
  const members = union.types.filter((t) => t._tag !== "Undefined")
  if (members.length === 0 || !members.every((m) => m._tag === "Objects")) return undefined
  const first = members[0] as SchemaAST.Objects
  for (const property of first.propertySignatures) {
    if (typeof property.name !== "string") continue
    const values: Array<unknown> = []
    for (const member of members as Array<SchemaAST.Objects>) {
      const match = member.propertySignatures.find((p) => p.name === property.name)
      if (!match || match.type._tag !== "Literal") break
      values.push(match.type.literal)
    }
    if (values.length === members.length) return { key: property.name, values }
  }
  return undefined
}

const walk = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>, out: Array<IssueLine>, knownKeys: ReadonlyArray<string>): void => {
  switch (issue._tag) {
    case "Pointer":
      walk(issue.issue, [...path, ...issue.path], out, knownKeys)
      return
    case "Composite": {
      const keys =
        issue.ast._tag === "Objects"
          ? issue.ast.propertySignatures.map((p) => p.name).filter((n): n is string => typeof n === "string")
          : knownKeys
      for (const child of issue.issues) walk(child, path, out, keys)
      return
    }
    case "Encoding":
      walk(issue.issue, path, out, knownKeys)
      return
    case "Filter": {
      const annotations = issue.filter.annotations as { expected?: string; message?: string } | undefined
      const own = issue.issue._tag === "InvalidValue" ? issue.issue.annotations?.message : undefined
      if (annotations?.message) out.push({ path, message: annotations.message })
      // A filter that returned its own message (a string) says best what is wrong.
      else if (typeof own === "string") out.push({ path, message: own })
      else if (issue.issue._tag === "InvalidValue" || issue.issue._tag === "InvalidType")
        out.push({ path, message: expectedGot(annotations?.expected ?? "a valid value", issue) })
      else walk(issue.issue, path, out, knownKeys)
      return
    }
    case "MissingKey":
      out.push({ path, message: issue.annotations?.messageMissingKey ?? "missing required key" })
      return
    case "UnexpectedKey": {
      const name = String(path.at(-1))
      const suggestion = suggestName(name, knownKeys)
      out.push({ path, message: suggestion ? `unknown key (did you mean "${suggestion}"?)` : "unknown key" })
      return
    }
    case "InvalidType":
      out.push({ path, message: expectedGot(describeAst(issue.ast), issue) })
      return
    case "InvalidValue":
    case "Forbidden":
      out.push({ path, message: issue.annotations?.message ?? expectedGot(issue.annotations?.expected ?? "a valid value", issue) })
      return
    case "OneOf":
      out.push({ path, message: "value matches more than one alternative" })
      return
    case "AnyOf": {
      const input = inputOf(issue)
      const tag = discriminant(issue.ast)
      if (tag && typeof input.value === "object" && input.value !== null && !Array.isArray(input.value)) {
        const value = (input.value as Record<string, unknown>)[tag.key]
        if (!tag.values.includes(value)) {
          const allowed = tag.values.map((v) => JSON.stringify(v)).join(", ")
          out.push({ path: [...path, tag.key], message: `expected one of ${allowed}, got ${showValue(value)}` })
          return
        }
      }
      // Prefer the member that got furthest: its issue points inside the value.
      const deep = issue.issues.find((child) => child._tag === "Composite" || child._tag === "Pointer" || child._tag === "Filter")
      if (deep) walk(deep, path, out, knownKeys)
      else if (issue.issues.length === 1) walk(issue.issues[0]!, path, out, knownKeys)
      else out.push({ path, message: expectedGot(describeAst(issue.ast), issue) })
      return
    }
  }
}

export const issueLines = (issue: SchemaIssue.Issue): Array<IssueLine> => {
  const out: Array<IssueLine> = []
  walk(issue, [], out, [])
  return out
}

/** One line for a whole issue tree: the first problem, plus a count of the others. */
export const summarizeIssue = (issue: SchemaIssue.Issue, prefix: ReadonlyArray<PropertyKey> = []): string => {
  const lines = issueLines(issue)
  if (lines.length === 0) return "invalid value"
  const first = lines[0]!
  const text = formatIssueLine({ path: [...prefix, ...first.path], message: first.message })
  return lines.length > 1 ? `${text} (and ${lines.length - 1} more problem${lines.length > 2 ? "s" : ""})` : text
}
