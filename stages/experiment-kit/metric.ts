/**
 * Reading the metric from an experiment's stdout and classifying how the experiment ended. Pure: the
 * executor feeds lines to a scanner; `classifyEnding` turns the process ending and the scan into a status.
 */
import type { ProcessEnding } from "../../src/services/Executor.ts"

export interface MetricScan {
  /** The value of the last `<name>: <number>` line, or null when none was seen. */
  readonly value: number | null
  /** The raw text of that value, to tell NaN/inf from absence. */
  readonly raw: string | null
  readonly lines: number
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A scanner for `^<name>:\s*<number>`; the last matching line wins. */
export const metricScanner = (name: string) => {
  const pattern = new RegExp(`^${escape(name)}:\\s*(\\S+)\\s*$`)
  let raw: string | null = null
  let lines = 0
  return {
    push: (line: string) => {
      lines += 1
      const match = pattern.exec(line)
      if (match) raw = match[1]!
    },
    result: (): MetricScan => {
      if (raw === null) return { value: null, raw: null, lines }
      const value = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw) ? Number(raw) : Number.NaN
      return { value, raw, lines }
    },
  }
}

export const parseMetric = (output: string, name: string): MetricScan => {
  const scanner = metricScanner(name)
  for (const line of output.split("\n")) scanner.push(line.replace(/\r$/, ""))
  return scanner.result()
}

export type RunStatus = "ok" | "crash" | "timeout"

export interface RunClassification {
  readonly status: RunStatus
  readonly metric: number | null
  readonly reason: string | null
}

export const classifyEnding = (ending: ProcessEnding, scan: MetricScan, metricName: string): RunClassification => {
  if (ending.failure) return { status: "crash", metric: null, reason: `could not run: ${ending.failure}` }
  if (ending.timedOut) return { status: "timeout", metric: null, reason: `killed at the hard limit after ${ending.seconds.toFixed(1)} s` }
  if (ending.exitCode !== 0) {
    const how = ending.signal ? `killed by ${ending.signal}` : ending.exitCode === 127 ? "command not found (exit 127)" : `exit code ${ending.exitCode}`
    return { status: "crash", metric: null, reason: how }
  }
  if (scan.value === null) return { status: "crash", metric: null, reason: `no "${metricName}: <number>" line on stdout` }
  if (!Number.isFinite(scan.value)) return { status: "crash", metric: null, reason: `${metricName} is not a finite number (${scan.raw})` }
  return { status: "ok", metric: scan.value, reason: null }
}
