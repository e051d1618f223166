/**
 * Search efficiency on the bundled tiny-lm target at the default pipeline's budgets (pipeline.config.ts:
 * 10 s experiments, 14 per arm; GEPA with 36 metric calls on 2 s proxy runs), offline. For each seed one run
 * of the real pipeline with both arms: `hybrid` (GEPA on proxy runs, then the code search re-validating the
 * handed-over edits and searching with the directions) and `inner-only` (the same code search with no
 * handoff). The figure is how many experiments the hybrid arm's code search needed to reach the inner-only
 * arm's best, over the inner-only arm's experiments to that best (target ≤ 0.6×). Proxy runs are not
 * experiments of the code search, so two more ratios charge them: as full-run equivalents (their budget over
 * the full budget) and by their process seconds.
 *
 * Every run has tiny-lm's compute budget (TINY_LM_COMPUTE_RATE, the rate of the quality benchmark's tiny-lm
 * target): the steps a run gets are what its time budget buys at a fixed rate, so a run is a pure function of
 * the script and its seed. Under the wall clock the arms of a seed, which run one after the other, trained
 * different numbers of steps whenever the machine's load changed between them, and no figure could be run
 * twice alike. `TWOLOOP_BENCH_CLOCK=wall` measures under the wall clock instead; `TWOLOOP_BENCH_SEEDS=0,1`
 * narrows the seeds (to run them in several processes).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Experiment } from "../src/domain/Experiment.ts"
import { buildReport, loadReportData } from "../src/pipeline/report/model.ts"
import { roleOf } from "../src/pipeline/StageKind.ts"
import { Store } from "../src/services/Store.ts"
import { runsOf } from "../stages/code-search/bookkeeping.ts"
import { type Benchmark, benchSeeds, fixed, mean, ratio, standardDeviation, type Table } from "./support/benchmark.ts"
import { configFor, makeProject, runPipeline } from "./support/project.ts"
import { COMPUTE_RATE, corpus } from "./targets/tinyLm.ts"

const spread = (values: ReadonlyArray<number>) => (values.length < 2 ? "–" : fixed(standardDeviation(values)))

const repoRoot = path.resolve(import.meta.dirname, "..")
const tinyLm = path.join(repoRoot, "examples", "tiny-lm")

export interface SeedOutcome {
  readonly seed: number
  readonly hybridBest: number | null
  readonly innerOnlyBest: number | null
  readonly baseline: number | null
  /** Inner-only experiments (sequence number) to its best; 0 when it kept nothing. */
  readonly innerOnlyToBest: number | null
  /** Hybrid code-search experiments to reach the inner-only best; null when it never did. */
  readonly hybridToReach: number | null
  readonly experimentsPerArm: number
  /** Proxy runs that ran in the outer stage, as full-run equivalents (budget ÷ the full budget). */
  readonly proxyRunEquivalents: number
  /** Process seconds: hybrid outer stage, hybrid inner up to the reach, inner-only up to its best. */
  readonly outerSeconds: number
  readonly hybridSecondsToReach: number | null
  /** Process seconds of the whole hybrid code search. */
  readonly hybridInnerSeconds: number
  readonly innerOnlySecondsToBest: number | null
}

export interface SearchFacts {
  readonly seeds: ReadonlyArray<SeedOutcome>
  readonly settings: {
    readonly timeBudgetSeconds: number
    readonly proxyTimeBudgetSeconds: number
    readonly metricCalls: number
    readonly experiments: number
    /** tiny-lm's TINY_LM_COMPUTE_RATE (multiply-adds a second of budget); null: the wall clock. */
    readonly computeRate: number | null
  }
}

/**
 * The sequence number of the first kept experiment whose mean (with its confirm runs) is at least as good
 * as `target`; 0 when the baseline already is; null when none is. Pure.
 */
export const experimentsToReach = (rows: ReadonlyArray<Experiment>, target: number, direction: "minimize" | "maximize"): number | null => {
  const good = (value: number) => (direction === "minimize" ? value <= target : value >= target)
  const baseline = rows.filter((row) => row.purpose === "baseline" && row.status === "measured" && row.metric !== null).map((row) => row.metric!)
  if (baseline.length > 0 && good(mean(baseline))) return 0
  for (const row of [...rows].sort((a, b) => a.seq - b.seq)) {
    if (row.status !== "keep") continue
    const runs = runsOf(rows, row)
    if (runs.length > 0 && good(mean(runs))) return row.seq
  }
  return null
}

const secondsThrough = (rows: ReadonlyArray<Experiment>, seq: number) => rows.filter((row) => row.seq <= seq).reduce((sum, row) => sum + (row.seconds ?? 0), 0)

export const runSeed = async (seed: number, settings: SearchFacts["settings"]): Promise<SeedOutcome> => {
  const root = makeProject({
    "train.mjs": fs.readFileSync(path.join(tinyLm, "train.mjs"), "utf8"),
    "prepare.mjs": fs.readFileSync(path.join(tinyLm, "prepare.mjs"), "utf8"),
  }, "twoloop-bench-search-")
  const config = configFor(root, {
    name: "tiny-lm-bench",
    model: "offline",
    reflectionModel: "offline",
    seed,
    target: {
      dir: "target",
      editable: ["train.mjs"],
      readonly: ["prepare.mjs"],
      command: "node train.mjs",
      metric: { name: "val_bpb", direction: "minimize" },
      timeBudgetSeconds: settings.timeBudgetSeconds,
      env: { TINY_LM_DATA: corpus, ...(settings.computeRate === null ? {} : { TINY_LM_COMPUTE_RATE: String(settings.computeRate) }) },
    },
    executor: { kind: "local", gpus: "none", cpuSlots: 1 },
    arms: ["hybrid", "inner-only"],
    stages: [
      { kind: "gepa", name: "outer", budget: { metricCalls: settings.metricCalls }, adapter: { kind: "research", scenarios: 3, proxyTimeBudgetSeconds: settings.proxyTimeBudgetSeconds } },
      { kind: "code-search", name: "inner", budget: { experiments: settings.experiments } },
    ],
  })
  const { after } = await runPipeline(config, {}, (summary) =>
    Effect.gen(function* () {
      const store = yield* Store
      const data = (yield* loadReportData(store, summary.runId, roleOf))!
      return { report: buildReport(data), stages: data.stages, experiments: data.experiments }
    }),
  )
  const { report, stages, experiments } = after
  const stageOf = (arm: string, name: string) => stages.find((stage) => stage.arm === arm && stage.name === name)!
  const rowsOf = (arm: string, name: string) => experiments.filter((row) => row.stageId === stageOf(arm, name).id)
  const hybridInner = rowsOf("hybrid", "inner")
  const innerOnly = rowsOf("inner-only", "inner")
  const innerOnlyArm = report.arms["inner-only"]
  const innerOnlyBest = innerOnlyArm?.best ?? null
  const innerOnlyToBest = innerOnlyArm?.experimentsToBest ?? null
  const hybridToReach = innerOnlyBest === null ? null : experimentsToReach(hybridInner, innerOnlyBest, "minimize")
  const baseline = report.innerStages.find((stage) => stage.arm === "inner-only")?.baseline ?? null
  return {
    seed,
    hybridBest: report.arms.hybrid?.best ?? null,
    innerOnlyBest,
    baseline,
    innerOnlyToBest,
    hybridToReach,
    experimentsPerArm: settings.experiments,
    outerSeconds: rowsOf("hybrid", "outer").reduce((sum, row) => sum + (row.seconds ?? 0), 0),
    proxyRunEquivalents: rowsOf("hybrid", "outer").filter((row) => row.startedAt !== null).reduce((sum, row) => sum + row.timeBudget / settings.timeBudgetSeconds, 0),
    hybridSecondsToReach: hybridToReach === null ? null : secondsThrough(hybridInner, hybridToReach),
    hybridInnerSeconds: secondsThrough(hybridInner, Number.POSITIVE_INFINITY),
    innerOnlySecondsToBest: innerOnlyToBest === null ? null : secondsThrough(innerOnly, innerOnlyToBest),
  }
}

/** Seeds where the inner-only arm improved on its baseline, so "experiments to its best" means something. */
const informative = (outcome: SeedOutcome) => outcome.innerOnlyToBest !== null && outcome.innerOnlyToBest > 0

/** Hybrid ÷ inner-only experiments; a hybrid arm that never reached counts as its whole budget (a lower bound). */
export const experimentRatio = (outcome: SeedOutcome) => (outcome.hybridToReach ?? outcome.experimentsPerArm) / outcome.innerOnlyToBest!

/** The same with the proxy runs charged as full-run equivalents. */
export const chargedRatio = (outcome: SeedOutcome) => ((outcome.hybridToReach ?? outcome.experimentsPerArm) + outcome.proxyRunEquivalents) / outcome.innerOnlyToBest!

/** The same in process seconds, the outer stage's proxy runs charged; an unreached seed charges all hybrid inner seconds. */
export const computeRatio = (outcome: SeedOutcome) => ((outcome.hybridSecondsToReach ?? outcome.hybridInnerSeconds) + outcome.outerSeconds) / outcome.innerOnlySecondsToBest!

/** The benchmark's tables from its per-seed outcomes (also used to merge runs over disjoint seeds). */
export const searchTables = (outcomes: ReadonlyArray<SeedOutcome>, settings: SearchFacts["settings"]): Array<Table> => {
  const usable = outcomes.filter(informative)
  const ratios = usable.map(experimentRatio)
  const computeRatios = usable.map(computeRatio)
  const chargedRatios = usable.map(chargedRatio)
  const reached = usable.filter((outcome) => outcome.hybridToReach !== null).length
  return [
    {
      title: "Search efficiency: hybrid experiments to reach the inner-only best ÷ inner-only experiments to its best",
      columns: ["measure", "mean", "sd", "min", "max", "seeds"],
      rows: [
        ["code-search experiments (target ≤ 0.6×)", ratio(mean(ratios)), spread(ratios), ratio(Math.min(...ratios)), ratio(Math.max(...ratios)), `${ratios.length} of ${outcomes.length}`],
        ["experiments, proxy runs charged as full-run equivalents", ratio(mean(chargedRatios)), spread(chargedRatios), ratio(Math.min(...chargedRatios)), ratio(Math.max(...chargedRatios)), `${chargedRatios.length} of ${outcomes.length}`],
        ["process seconds, outer proxy runs charged", ratio(mean(computeRatios)), spread(computeRatios), ratio(Math.min(...computeRatios)), ratio(Math.max(...computeRatios)), `${computeRatios.length} of ${outcomes.length}`],
      ],
      notes: [
        `Hybrid reached the inner-only best in ${reached} of ${usable.length} informative seeds; a seed where it did not counts its whole budget (${settings.experiments} experiments, all its process seconds), so its ratio is a lower bound.`,
        "A seed is informative when the inner-only arm kept at least one improvement (otherwise its experiments-to-best is 0).",
      ],
    },
    {
      title: "Search efficiency per seed (val_bpb, lower is better)",
      columns: ["seed", "baseline", "inner-only best", "at experiment", "hybrid best", "hybrid reached it at", "ratio", "outer proxy s", "hybrid inner s to reach", "inner-only s to best"],
      rows: outcomes.map((o) => [
        o.seed,
        fixed(o.baseline, 3),
        fixed(o.innerOnlyBest, 3),
        o.innerOnlyToBest ?? "–",
        fixed(o.hybridBest, 3),
        o.hybridToReach ?? `not within ${o.experimentsPerArm}`,
        informative(o) ? ratio(experimentRatio(o)) : "–",
        fixed(o.outerSeconds, 1),
        fixed(o.hybridSecondsToReach, 1),
        fixed(o.innerOnlySecondsToBest, 1),
      ]),
      notes: [
        `Per arm: ${settings.experiments} code-search experiments at ${settings.timeBudgetSeconds} s (baselines and confirm runs included); the hybrid arm's GEPA stage first spends ${settings.metricCalls} metric calls on ${settings.proxyTimeBudgetSeconds}-second proxy runs (3 scenarios).`,
        settings.computeRate === null
          ? "Runs were time-budgeted (the wall clock): a loaded machine trains fewer steps a run, and the arms of a seed run one after the other."
          : `Runs had a compute budget (TINY_LM_COMPUTE_RATE=${settings.computeRate.toExponential(0)}: the steps a budget buys at that rate, the clock not read), so every run is a pure function of the script and its seed.`,
        "Experiment counts are sequence numbers in the stage, as the report's experimentsToBest counts them.",
      ],
    },
  ]
}

export const searchEfficiencyBenchmark: Benchmark<SearchFacts> = {
  name: "search",
  title: "Search efficiency, hybrid vs inner-only (tiny-lm, offline)",
  run: async ({ quick, log }) => {
    const clock = process.env.TWOLOOP_BENCH_CLOCK ?? "compute"
    if (clock !== "compute" && clock !== "wall") throw new Error(`TWOLOOP_BENCH_CLOCK=${clock}: expected compute or wall`)
    const computeRate = clock === "compute" ? COMPUTE_RATE : null
    const settings = quick
      ? { timeBudgetSeconds: 0.5, proxyTimeBudgetSeconds: 0.3, metricCalls: 12, experiments: 6, computeRate }
      : { timeBudgetSeconds: 10, proxyTimeBudgetSeconds: 2, metricCalls: 36, experiments: 14, computeRate }
    const seeds = benchSeeds() ?? (quick ? [0] : [0, 1, 2, 3, 4])
    const outcomes: Array<SeedOutcome> = []
    for (const seed of seeds) {
      log(`search: seed ${seed}, both arms`)
      outcomes.push(await runSeed(seed, settings))
    }
    return { facts: { seeds: outcomes, settings }, tables: searchTables(outcomes, settings) }
  },
}
