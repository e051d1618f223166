/**
 * Tunables kept in editable YAML and JSON config files: every numeric, boolean and string leaf whose key
 * path is made of plain keys, named by that path (`optimizer.lr`, `layers.0.width`). YAML is read with
 * the `yaml` package (its source ranges locate each value, and a line's trailing comment gives a string's
 * alternatives, `# one of: adamw, sgd`); JSON must pass JSON.parse and is located the same way (JSON is
 * YAML). A new value replaces only the value's text, so comments, order and formatting stay. A leaf can
 * be overridden from the command line as `path=value` (Hydra-style), which is what `flags` says. Pure.
 */
import { isMap, isScalar, isSeq, type Node, parseDocument, Scalar } from "yaml"
import type { Tunable, TunableValue } from "./index.ts"
import { formatNumber } from "./index.ts"
import { alternativesFromComment } from "./constants.ts"
import { lineOf, parseNumberText } from "./python.ts"
import { spanChange } from "./spanChange.ts"
import type { SourceFindings } from "./sources.ts"

export const configFileKind = (file: string): "yaml" | "json" | undefined => (/\.ya?ml$/i.test(file) ? "yaml" : /\.json$/i.test(file) ? "json" : undefined)

const plainKey = /^[A-Za-z_][\w-]*$/

export const findConfigFileLeaves = (file: string, content: string): SourceFindings => {
  const kind = configFileKind(file)
  if (!kind) return { tunables: [], overridden: [] }
  if (kind === "json") {
    try {
      JSON.parse(content)
    } catch {
      return { tunables: [], overridden: [] }
    }
  }
  const document = parseDocument(content, { prettyErrors: false, uniqueKeys: false })
  if (document.errors.length > 0) return { tunables: [], overridden: [] }
  const tunables: Array<Tunable> = []
  const visit = (node: Node | null | undefined, path: ReadonlyArray<string>) => {
    if (!node) return
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined
        if (key !== undefined && plainKey.test(key)) visit(pair.value as Node, [...path, key])
      }
      return
    }
    if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item as Node, [...path, String(index)]))
      return
    }
    if (!isScalar(node) || path.length === 0 || !node.range) return
    const leaf = leafOf(node, content, kind)
    if (!leaf) return
    const [start, end] = node.range
    const name = path.join(".")
    tunables.push({
      file,
      name,
      source: kind,
      line: lineOf(content, start) + 1,
      flags: [`${name}=`, `+${name}=`, `++${name}=`],
      value: leaf.value,
      alternatives: leaf.value.kind === "string" ? alternativesFromComment(node.comment ?? "").filter((alt) => alt !== leaf.value.value) : [],
      format: leaf.format,
      change: (text) => spanChange(file, content, start, end, text),
    })
  }
  visit(document.contents as Node, [])
  return { tunables, overridden: [] }
}

const leafOf = (node: Scalar, content: string, kind: "yaml" | "json"): { value: TunableValue; format: (next: number | boolean | string) => string } | undefined => {
  const text = content.slice(node.range![0], node.range![1])
  if (node.type === Scalar.PLAIN) {
    const number = parseNumberText(text)
    if (number && typeof node.value === "number") {
      const value = { kind: "number", ...number, text } as const
      return { value, format: (next) => formatNumber(next as number, value) }
    }
    if (typeof node.value === "boolean" && /^(true|false|True|False|TRUE|FALSE)$/.test(text)) {
      const capital = /^[A-Z]/.test(text)
      return { value: { kind: "boolean", value: node.value, text }, format: (next) => (capital ? (next ? "True" : "False") : next ? "true" : "false") }
    }
    if (typeof node.value === "string" && kind === "yaml" && /^[A-Za-z_][\w.\-/]*$/.test(text)) {
      // A bare YAML word: written back bare when the new one is a bare word too.
      return { value: { kind: "string", value: node.value, text }, format: (next) => (/^[A-Za-z_][\w.\-/]*$/.test(String(next)) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(String(next)) ? String(next) : JSON.stringify(String(next))) }
    }
    return undefined
  }
  if ((node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) && typeof node.value === "string" && !/[\\\n]/.test(text)) {
    const quote = node.type === Scalar.QUOTE_DOUBLE ? '"' : "'"
    return { value: { kind: "string", value: node.value, text }, format: (next) => `${quote}${String(next)}${quote}` }
  }
  return undefined
}
