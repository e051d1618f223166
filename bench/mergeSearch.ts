/**
 * Merges search-efficiency results from runs over disjoint seeds into one set of tables. Under the compute
 * budget (the default) a run is a pure function of the script and its seed, so seeds run in several
 * processes side by side (`TWOLOOP_BENCH_SEEDS=0,1,2` and `3,4`) merge exactly:
 *
 *   npx tsx bench/mergeSearch.ts a.json b.json …   (files written by `npm run bench -- --only search --json F`)
 */
import { type SearchFacts, searchTables } from "./searchEfficiency.ts"
import { factsIn, formatTable } from "./support/benchmark.ts"

const read = (file: string): SearchFacts => {
  const facts = factsIn<SearchFacts>(file, "search")
  // Files from before the compute budget have no computeRate: their runs were time-budgeted.
  return { ...facts, settings: { ...facts.settings, computeRate: facts.settings.computeRate ?? null } }
}

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error("usage: npx tsx bench/mergeSearch.ts results.json [more.json …]")
  process.exit(2)
}
try {
  const runs = files.map(read)
  const same = (a: SearchFacts["settings"], b: SearchFacts["settings"]) => JSON.stringify(a) === JSON.stringify(b)
  const differing = files.filter((_, i) => !same(runs[i]!.settings, runs[0]!.settings))
  if (differing.length > 0) throw new Error(`${differing.join(", ")}: measured with other settings than ${files[0]} (budgets, metric calls or clock); merge runs of one configuration`)
  const seeds = runs.flatMap((run) => run.seeds)
  const repeated = seeds.map((o) => o.seed).filter((seed, i, all) => all.indexOf(seed) !== i)
  if (repeated.length > 0) throw new Error(`seed ${repeated.join(", ")} appears in more than one file; merge runs over disjoint seeds`)
  for (const table of searchTables([...seeds].sort((a, b) => a.seed - b.seed), runs[0]!.settings)) console.log(`${formatTable(table)}\n`)
} catch (error) {
  console.error(`mergeSearch: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
