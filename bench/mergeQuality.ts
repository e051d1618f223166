/**
 * Merges search-quality results from runs over disjoint seeds into one set of tables, and adds a paired
 * comparison of hybrid against each other system (each seed is independent and its noise is seeded, so
 * runs made apart, e.g. `TWOLOOP_BENCH_SEEDS=0,1,2,3` and `4,5,6,7` in two processes, merge exactly):
 *
 *   npx tsx bench/mergeQuality.ts a.json b.json …   (files written by `npm run bench -- --only quality --json F`)
 */
import { pairedTable, qualityTables, type TargetFacts } from "./searchQuality.ts"
import { factsIn, formatTable } from "./support/benchmark.ts"

interface QualityFacts {
  readonly settings: Parameters<typeof qualityTables>[1]
  readonly targets: ReadonlyArray<TargetFacts>
}

const read = (file: string): QualityFacts => factsIn<QualityFacts>(file, "quality")

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error("usage: npx tsx bench/mergeQuality.ts results.json [more.json …]")
  process.exit(2)
}
const runs = files.map(read)
const merged = new Map<string, TargetFacts>()
for (const run of runs)
  for (const target of run.targets) {
    const have = merged.get(target.target)
    const clash = have?.results.some((r) => target.results.some((s) => s.seed === r.seed && s.system === r.system))
    if (clash) throw new Error(`${target.target}: a seed appears in more than one file; merge runs over disjoint seeds`)
    // A target judged against the best found (tiny-lm): the merged optimum is the best of the files'. Runs to
    // 90 % were counted in each file against its own best found; the note below says so.
    const optimum = have && have.optimumKnown === false ? Math.min(have.optimum, target.optimum) : (have?.optimum ?? target.optimum)
    merged.set(target.target, have ? { ...have, optimum, results: [...have.results, ...target.results] } : target)
  }
const perFile = [...merged.values()].filter((t) => t.optimumKnown === false)
for (const target of perFile) {
  const optima = runs.map((run) => run.targets.find((t) => t.target === target.target)?.optimum).filter((o): o is number => o !== undefined)
  if (new Set(optima).size > 1)
    console.log(`Note: ${target.target}'s optimum is the best found; merged it is ${target.optimum.toFixed(3)}, but runs to 90 % were counted in each file against its own best found (${optima.map((o) => o.toFixed(3)).join(", ")}).\n`)
}
const settings = { ...runs[0]!.settings, seeds: runs.flatMap((run) => run.settings.seeds) }
for (const table of [...qualityTables([...merged.values()], settings, true), pairedTable([...merged.values()])]) console.log(`${formatTable(table)}\n`)
