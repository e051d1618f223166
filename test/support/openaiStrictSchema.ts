/**
 * OpenAI's rules for a JSON Schema sent as a strict structured output (Structured Outputs, "Supported
 * schemas"), as one pure function: the test server refuses a strict request with the first violation, and
 * unit tests check twoloop's schemas with the same function. Messages follow the API's wording, e.g.
 * `In context=('properties', 'x'), 'additionalProperties' is required to be supplied and to be false.`
 *
 * The rules: the root is an object (not `anyOf`); every object lists all its properties in `required` and
 * sets `additionalProperties: false`; every schema says what it is (`type`, `anyOf`, `enum`, `const` or a
 * `$ref` that resolves); only the documented keywords appear; string formats come from the documented
 * list; at most 10 levels of nesting and 5000 object properties in all.
 */

const structural = ["type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "$ref", "$defs", "definitions", "description", "title"]
const constraints = ["pattern", "format", "multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems"]
const permitted = new Set([...structural, ...constraints])
const formats = new Set(["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"])
const types = new Set(["string", "number", "integer", "boolean", "object", "array", "null"])
const maxDepth = 10
const maxProperties = 5000

/** A path as the API prints it: a Python tuple, `()`, `('items',)`, `('properties', 'x')`. */
const context = (path: ReadonlyArray<string>) =>
  `context=(${path.map((p) => `'${p}'`).join(", ")}${path.length === 1 ? "," : ""})`

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** Every rule the schema breaks, in document order; empty when OpenAI accepts it in strict mode. */
export const strictSchemaViolations = (schema: unknown): Array<string> => {
  const violations: Array<string> = []
  if (!isRecord(schema)) return ["schema must be a JSON Schema object"]
  if (schema.type !== "object" || "anyOf" in schema)
    violations.push(`schema must be a JSON Schema of 'type: "object"', got 'type: "${"anyOf" in schema ? "anyOf" : String(schema.type)}"'.`)
  let properties = 0

  const resolves = (ref: string) => {
    if (ref === "#") return true
    const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref)
    const definitions = match ? schema[match[1]!] : undefined
    return isRecord(definitions) && isRecord(definitions[match![2]!])
  }

  const visit = (node: unknown, path: ReadonlyArray<string>, depth: number): void => {
    const where = context(path)
    if (!isRecord(node)) return void violations.push(`In ${where}, schema must be a JSON Schema object.`)
    if (depth > maxDepth) return void violations.push(`In ${where}, the schema nests more than ${maxDepth} levels.`)
    for (const key of Object.keys(node)) if (!permitted.has(key)) violations.push(`In ${where}, '${key}' is not permitted.`)
    if (!("type" in node || "anyOf" in node || "$ref" in node || "enum" in node || "const" in node)) violations.push(`In ${where}, schema must have a 'type' key.`)
    const declared = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type]
    for (const type of declared) if (typeof type !== "string" || !types.has(type)) violations.push(`In ${where}, '${String(type)}' is not a valid type.`)
    if (typeof node.$ref === "string" && !resolves(node.$ref)) violations.push(`In ${where}, reference '${node.$ref}' cannot be resolved.`)
    if (typeof node.format === "string" && !formats.has(node.format)) violations.push(`In ${where}, format '${node.format}' is not supported.`)

    if (declared.includes("object") || "properties" in node) {
      const props = isRecord(node.properties) ? node.properties : {}
      const keys = Object.keys(props)
      properties += keys.length
      if (node.additionalProperties !== false) violations.push(`In ${where}, 'additionalProperties' is required to be supplied and to be false.`)
      const required = Array.isArray(node.required) ? node.required : []
      const missing = keys.filter((key) => !required.includes(key))
      if (!Array.isArray(node.required) || missing.length > 0)
        violations.push(`In ${where}, 'required' is required to be supplied and to be an array including every key in properties.${missing.length > 0 ? ` Missing '${missing[0]}'.` : ""}`)
      const extra = required.find((key) => typeof key !== "string" || !keys.includes(key))
      if (extra !== undefined) violations.push(`In ${where}, Extra required key '${String(extra)}' supplied.`)
      for (const key of keys) visit(props[key], [...path, "properties", key], depth + 1)
    }
    if ("items" in node) {
      if (Array.isArray(node.items)) violations.push(`In ${where}, 'items' must be a schema, not an array.`)
      else visit(node.items, [...path, "items"], depth + 1)
    }
    if ("anyOf" in node) {
      if (!Array.isArray(node.anyOf) || node.anyOf.length === 0) violations.push(`In ${where}, 'anyOf' must be a non-empty array.`)
      else node.anyOf.forEach((branch, index) => visit(branch, [...path, "anyOf", String(index)], depth))
    }
    for (const key of ["$defs", "definitions"] as const)
      if (key in node) {
        if (path.length > 0 || !isRecord(node[key])) violations.push(`In ${where}, '${key}' is only permitted at the root, as an object of schemas.`)
        else for (const [name, definition] of Object.entries(node[key])) visit(definition, [key, name], 1)
      }
  }

  visit(schema, [], 1)
  if (properties > maxProperties) violations.push(`The schema has ${properties} object properties; at most ${maxProperties} are permitted.`)
  return violations
}
