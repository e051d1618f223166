/**
 * Markdown rendering of reflective-dataset records for the reflection prompt: `# Example N` per record,
 * `## key` per key, nested objects as `### subkey` (header depth capped at 6), list items as
 * `### Item k`, scalars stripped and followed by a blank line; records joined by a blank line.
 */

const maxHeaderDepth = 6

const header = (level: number, title: string) => `${"#".repeat(level)} ${title}\n`

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype

const scalarText = (value: unknown): string => {
  if (value === undefined) return ""
  if (typeof value === "string") return value
  if (value === null || typeof value !== "object") return String(value)
  return JSON.stringify(value)
}

const renderValue = (value: unknown, level: number): string => {
  const deeper = Math.min(level + 1, maxHeaderDepth)
  if (Array.isArray(value)) {
    if (value.length === 0) return "\n"
    return value.map((item, index) => header(level, `Item ${index + 1}`) + renderValue(item, deeper)).join("")
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value)
    if (entries.length === 0) return "\n"
    return entries.map(([key, item]) => header(level, key) + renderValue(item, deeper)).join("")
  }
  return `${scalarText(value).trim()}\n\n`
}

const renderRecord = (record: Readonly<Record<string, unknown>>, number: number): string =>
  header(1, `Example ${number}`) + Object.entries(record).map(([key, value]) => header(2, key) + renderValue(value, 3)).join("")

export const renderReflectiveDataset = (records: ReadonlyArray<Record<string, unknown>>): string =>
  records.map((record, index) => renderRecord(record, index + 1)).join("\n\n")
