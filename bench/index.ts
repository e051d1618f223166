/**
 * `npm run bench`: runs each benchmark in turn and prints its tables (ratios measured side by side in this
 * run, then absolute figures that only hold for this machine).
 *
 *   npm run bench -- [--quick] [--only name[,name...]] [--json FILE]
 *
 * `--quick` is a smoke run with the smallest sizes; `--json` also writes every table and fact to FILE.
 */
import * as fs from "node:fs"
import { dutyCycleBenchmark } from "./dutyCycle.ts"
import { gepaOverheadBenchmark } from "./gepaOverhead.ts"
import { orchestratorOverheadBenchmark } from "./orchestratorOverhead.ts"
import { searchEfficiencyBenchmark } from "./searchEfficiency.ts"
import { searchQualityBenchmark } from "./searchQuality.ts"
import { storeScaleBenchmark } from "./storeScale.ts"
import { type Benchmark, describeMachine, formatTable, machine } from "./support/benchmark.ts"
import { isolateHome, removeTempDirs } from "./support/project.ts"

export const benchmarks: ReadonlyArray<Benchmark<unknown>> = [
  dutyCycleBenchmark,
  orchestratorOverheadBenchmark,
  gepaOverheadBenchmark,
  storeScaleBenchmark,
  searchEfficiencyBenchmark,
  searchQualityBenchmark,
]

interface Arguments {
  readonly quick: boolean
  readonly only: ReadonlyArray<string> | undefined
  readonly json: string | undefined
}

const parseArguments = (argv: ReadonlyArray<string>): Arguments | string => {
  let quick = false
  let only: Array<string> | undefined
  let json: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!
    if (argument === "--quick") quick = true
    else if (argument === "--only" || argument === "--json") {
      const value = argv[++i]
      if (value === undefined || value.startsWith("--")) return `${argument} needs a value`
      if (argument === "--json") json = value
      else only = [...(only ?? []), ...value.split(",").filter((name) => name.length > 0)]
    } else if (argument === "--help" || argument === "-h") return "usage"
    else return `unknown argument ${argument}`
  }
  const unknown = only?.find((name) => !benchmarks.some((benchmark) => benchmark.name === name))
  if (unknown) return `no benchmark named ${unknown} (benchmarks: ${benchmarks.map((b) => b.name).join(", ")})`
  return { quick, only, json }
}

const usage = `usage: npm run bench -- [--quick] [--only ${benchmarks.map((b) => b.name).join("|")}[,...]] [--json FILE]`

const main = async () => {
  const parsed = parseArguments(process.argv.slice(2))
  if (typeof parsed === "string") {
    process.stderr.write(`${parsed === "usage" ? usage : `bench: ${parsed}\n${usage}`}\n`)
    process.exitCode = parsed === "usage" ? 0 : 1
    return
  }
  isolateHome()
  const selected = benchmarks.filter((benchmark) => parsed.only === undefined || parsed.only.includes(benchmark.name))
  const host = machine()
  const log = (line: string) => process.stderr.write(`  … ${line}\n`)
  process.stdout.write(`# twoloop benchmarks${parsed.quick ? " (quick)" : ""}\n\n${new Date().toISOString()} on ${describeMachine(host)}\n\n`)
  const results: Array<{ name: string; title: string; seconds: number; tables: unknown; facts: unknown }> = []
  try {
    for (const benchmark of selected) {
      process.stdout.write(`## ${benchmark.title}\n\n`)
      const started = performance.now()
      const result = await benchmark.run({ quick: parsed.quick, log })
      const seconds = (performance.now() - started) / 1000
      for (const table of result.tables) process.stdout.write(`${formatTable(table)}\n\n`)
      process.stdout.write(`(${benchmark.name}: ${seconds.toFixed(1)} s)\n\n`)
      results.push({ name: benchmark.name, title: benchmark.title, seconds, tables: result.tables, facts: result.facts })
    }
  } finally {
    removeTempDirs()
  }
  if (parsed.json) fs.writeFileSync(parsed.json, `${JSON.stringify({ date: new Date().toISOString(), machine: host, quick: parsed.quick, results }, null, 2)}\n`)
}

await main()
