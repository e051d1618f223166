/**
 * What a benchmark is and what it hands back: tables to print (ratios first, absolute figures labelled
 * machine-specific) and `facts`, the structured results a test can assert on. Plus the few statistics and
 * formatting helpers every benchmark uses.
 */
import * as fs from "node:fs"
import * as os from "node:os"

export interface BenchOptions {
  /** A smoke run: the smallest sizes that still exercise every code path. */
  readonly quick: boolean
  /** Progress lines while a benchmark runs (the tables are printed by the caller). */
  readonly log: (line: string) => void
}

export interface Table {
  readonly title: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>
  readonly notes?: ReadonlyArray<string>
}

export interface BenchResult<Facts> {
  readonly tables: ReadonlyArray<Table>
  readonly facts: Facts
}

export interface Benchmark<Facts> {
  /** Used by `--only`. */
  readonly name: string
  readonly title: string
  readonly run: (options: BenchOptions) => Promise<BenchResult<Facts>>
}

export { mean, standardDeviation } from "../../src/common/stats.ts"

export const median = (values: ReadonlyArray<number>) => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The facts one benchmark wrote into a `--json` results file; throws naming the file when it has none. */
export const factsIn = <Facts>(file: string, name: string): Facts => {
  const results = (JSON.parse(fs.readFileSync(file, "utf8")) as { results: Array<{ name: string; facts: Facts }> }).results
  const found = results.find((r) => r.name === name)
  if (!found) throw new Error(`${file}: no "${name}" results in it (write one with --only ${name} --json ${file})`)
  return found.facts
}

/** The seeds `TWOLOOP_BENCH_SEEDS=0,1` narrows a benchmark to (to split a long one over processes); undefined when unset. */
export const benchSeeds = (): Array<number> | undefined => {
  const text = process.env.TWOLOOP_BENCH_SEEDS
  if (text === undefined || text.trim() === "") return undefined
  const seeds = text.split(",").map((part) => part.trim())
  const bad = seeds.find((part) => !/^\d+$/.test(part))
  if (bad !== undefined) throw new Error(`TWOLOOP_BENCH_SEEDS=${text}: "${bad}" is not a non-negative integer`)
  return seeds.map(Number)
}

export const fixed = (value: number | null | undefined, digits = 2) => (value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits))

export const ratio = (value: number | null | undefined, digits = 2) => (value === null || value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(digits)}×`)

export const percent = (value: number | null | undefined, digits = 0) => (value === null || value === undefined || !Number.isFinite(value) ? "–" : `${(value * 100).toFixed(digits)} %`)

export const formatTable = (table: Table): string => {
  const cells = [table.columns, ...table.rows.map((row) => row.map(String))]
  const widths = table.columns.map((_, column) => Math.max(...cells.map((row) => String(row[column] ?? "").length)))
  const line = (row: ReadonlyArray<string | number>) => `| ${row.map((cell, column) => String(cell).padEnd(widths[column]!)).join(" | ")} |`
  return [
    `### ${table.title}`,
    "",
    line(table.columns),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...table.rows.map(line),
    ...(table.notes && table.notes.length > 0 ? ["", ...table.notes.map((note) => `- ${note}`)] : []),
  ].join("\n")
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly node: string
  readonly platform: string
}

export const machine = (): Machine => ({
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
})

export const describeMachine = (m: Machine) => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}`
