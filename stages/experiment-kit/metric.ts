/**
 * Reading the metric an experiment reports and classifying how the experiment ended. The metric comes
 * from stdout — the last match of `target.metric.pattern` (one capture group; default: a whole line
 * `<name>: <number>`) — or from a JSON file the run writes (`target.metric.file`, value at the dotted
 * `key`, default the metric's name). Pure: the executor feeds lines to a scanner, the runner hands the
 * file's text to `metricFromJson`; `classifyEnding` turns the process ending and the reading into a status.
 */
import type { ProcessEnding } from "../../src/services/Executor.ts"

export interface MetricScan {
  /** The value read, or null when none was found. */
  readonly value: number | null
  /** The raw text of that value, to tell NaN/inf from absence. */
  readonly raw: string | null
  readonly lines: number
  /** Why there is no value, when the source says more than "none" (a missing file, a missing key). */
  readonly problem?: string
}

/** Where the metric is read from, as the target config says. A bare name means the default stdout line. */
export interface MetricSpec {
  readonly name: string
  readonly pattern?: string | undefined
  readonly file?: string | undefined
  readonly key?: string | undefined
}

const specOf = (spec: MetricSpec | string): MetricSpec => (typeof spec === "string" ? { name: spec } : spec)

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The stdout pattern of a metric: `pattern`, or a whole `<name>: <value>` line. */
export const metricPattern = (spec: MetricSpec | string): RegExp => {
  const { name, pattern } = specOf(spec)
  return new RegExp(pattern ?? `^${escape(name)}:\\s*(\\S+)\\s*$`, "g")
}

/** What the metric's source is, for messages: `a "val_bpb: <number>" line on stdout`. */
export const describeMetricSource = (spec: MetricSpec | string): string => {
  const { name, pattern, file, key } = specOf(spec)
  if (file !== undefined) return `the key "${key ?? name}" in ${file}`
  if (pattern !== undefined) return `a match of /${pattern}/ on stdout`
  return `a "${name}: <number>" line on stdout`
}

const numberValue = (raw: string): number => (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw) ? Number(raw) : Number.NaN)

/** A scanner of stdout lines; the last match wins. */
export const metricScanner = (spec: MetricSpec | string) => {
  const pattern = metricPattern(spec)
  let raw: string | null = null
  let lines = 0
  return {
    push: (line: string) => {
      lines += 1
      for (const match of line.matchAll(pattern)) if (match[1] !== undefined) raw = match[1]
    },
    result: (): MetricScan => (raw === null ? { value: null, raw: null, lines } : { value: numberValue(raw.trim()), raw, lines }),
  }
}

export const parseMetric = (output: string, spec: MetricSpec | string): MetricScan => {
  const scanner = metricScanner(spec)
  for (const line of output.split("\n")) scanner.push(line.replace(/\r$/, ""))
  return scanner.result()
}

/** The value at the dotted `key` of a JSON document (`undefined` text: the file was not written). */
export const metricFromJson = (text: string | undefined, spec: MetricSpec): MetricScan => {
  const file = spec.file ?? "the metric file"
  const key = spec.key ?? spec.name
  if (text === undefined) return { value: null, raw: null, lines: 0, problem: `the run did not write ${file}` }
  let node: unknown
  try {
    node = JSON.parse(text)
  } catch (error) {
    return { value: null, raw: null, lines: 0, problem: `${file} is not JSON (${(error as Error).message})` }
  }
  // A key that exists as written wins over its dotted reading ({"val.loss": 1}).
  if (node !== null && typeof node === "object" && !Array.isArray(node) && Object.hasOwn(node, key)) node = (node as Record<string, unknown>)[key]
  else
    for (const part of key.split(".")) {
      if (node === null || typeof node !== "object" || !Object.hasOwn(node as object, part)) return { value: null, raw: null, lines: 0, problem: `${file} has no key "${key}"` }
      node = (node as Record<string, unknown>)[part]
    }
  if (typeof node === "number") return { value: node, raw: String(node), lines: 0 }
  if (typeof node === "string") return { value: numberValue(node.trim()), raw: node, lines: 0 }
  return { value: Number.NaN, raw: JSON.stringify(node) ?? "undefined", lines: 0 }
}

export type RunStatus = "ok" | "crash" | "timeout"

export interface RunClassification {
  readonly status: RunStatus
  readonly metric: number | null
  readonly reason: string | null
}

export const classifyEnding = (ending: ProcessEnding, scan: MetricScan, spec: MetricSpec | string): RunClassification => {
  const { name } = specOf(spec)
  if (ending.failure) return { status: "crash", metric: null, reason: `could not run: ${ending.failure}` }
  if (ending.timedOut) return { status: "timeout", metric: null, reason: `killed at the hard limit after ${ending.seconds.toFixed(1)} s` }
  if (ending.exitCode !== 0) {
    const how = ending.signal ? `killed by ${ending.signal}` : ending.exitCode === 127 ? "command not found (exit 127)" : `exit code ${ending.exitCode}`
    return { status: "crash", metric: null, reason: how }
  }
  if (scan.value === null) return { status: "crash", metric: null, reason: scan.problem ?? `no ${describeMetricSource(spec).replace(/^a /, "")}` }
  if (!Number.isFinite(scan.value)) return { status: "crash", metric: null, reason: `${name} is not a finite number (${scan.raw})` }
  return { status: "ok", metric: scan.value, reason: null }
}
