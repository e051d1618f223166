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
 *
 * The race is counted twice. By the measured values, as the report counts them: the inner-only best is the
 * least of noisy values, so under the wall clock a hybrid arm can miss it by less than the clock's noise.
 * And judged: after each seed's search, every incumbent of either arm is run again by a compute-budget judge
 * over seeds no search used, and the race is counted on those values (see JudgedRace).
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Experiment } from "../src/domain/Experiment.ts"
import { buildReport, loadReportData } from "../src/pipeline/report/model.ts"
import { roleOf } from "../src/pipeline/StageKind.ts"
import { Store } from "../src/services/Store.ts"
import { runsOf } from "../stages/code-search/bookkeeping.ts"
import { type Benchmark, benchSeeds, fixed, mean, ratio, standardDeviation, type Table } from "./support/benchmark.ts"
import { configFor, makeProject, runPipeline } from "./support/project.ts"
import { COMPUTE_RATE, corpus, scriptJudge } from "./targets/tinyLm.ts"

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
  /** The same race judged by the compute-budget judge instead of the measured values; absent in files from before it. */
  readonly judged?: JudgedRace
}

/**
 * The race judged: every incumbent each arm had (its base, then each keep) run again by a judge that no
 * search saw, under tiny-lm's compute budget at the full budget, over seeds no search used. The target is
 * the best judged incumbent of the inner-only arm; each arm's figure is the first incumbent judged at least
 * as good. Under the wall clock a measured value carries the machine's load, so "reached" by the measured
 * values is partly luck (the inner-only best is the least of noisy values); judged, it is not.
 */
export interface JudgedRace {
  readonly budgetSeconds: number
  readonly seeds: ReadonlyArray<number>
  /** Each arm's incumbents in order: sequence number (0: the base) and judged val_bpb. */
  readonly innerOnly: ReadonlyArray<JudgedIncumbent>
  readonly hybrid: ReadonlyArray<JudgedIncumbent>
}

export interface JudgedIncumbent {
  readonly seq: number
  readonly value: number
}

/** What a judged race says: the inner-only arm's judged best and when it got there, when hybrid reached it. Pure. */
export const judgedOutcome = (race: JudgedRace) => {
  const best = Math.min(...race.innerOnly.map((step) => step.value))
  const firstAt = (path: ReadonlyArray<JudgedIncumbent>) => path.find((step) => step.value <= best)?.seq ?? null
  return {
    innerOnlyBest: best,
    innerOnlyToBest: firstAt(race.innerOnly)!,
    hybridToReach: firstAt(race.hybrid),
    innerOnlyFinal: race.innerOnly.at(-1)!.value,
    hybridFinal: race.hybrid.at(-1)!.value,
  }
}

/** A code search's incumbents in the order it had them: its base commit (at 0), then each keep's result commit. Pure. */
export const incumbentCommits = (rows: ReadonlyArray<Experiment>): Array<{ readonly seq: number; readonly commit: string }> => {
  const base = rows.find((row) => row.purpose === "baseline" && row.baseCommit !== null)?.baseCommit
  if (base === undefined || base === null) throw new Error("search bench: a code search without a baseline")
  const kept = [...rows].filter((row) => row.status === "keep" && row.resultCommit !== null).sort((a, b) => a.seq - b.seq)
  return [{ seq: 0, commit: base }, ...kept.map((row) => ({ seq: row.seq, commit: row.resultCommit! }))]
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

/** Seeds of the judge's runs: none of them is a seed a search runs with (its seed plus up to a few hundred, proxy scenarios 1000 and up). */
const JUDGE_SEEDS: ReadonlyArray<number> = [5000, 5001, 5002, 5003]

export const runSeed = async (seed: number, settings: SearchFacts["settings"], judge: (script: string) => Promise<number>): Promise<SeedOutcome> => {
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
  const scriptAt = (commit: string) => execFileSync("git", ["show", `${commit}:target/train.mjs`], { cwd: root, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 })
  const judgePath = (rows: ReadonlyArray<Experiment>) =>
    Promise.all(incumbentCommits(rows).map(async ({ seq, commit }) => ({ seq, value: await judge(scriptAt(commit)) })))
  const judged: JudgedRace = { budgetSeconds: settings.timeBudgetSeconds, seeds: JUDGE_SEEDS, innerOnly: await judgePath(innerOnly), hybrid: await judgePath(hybridInner) }
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
    judged,
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

/** The judged race of a seed where the inner-only arm got to a judged best better than its base, else null. */
const judgedRace = (outcome: SeedOutcome) => {
  if (outcome.judged === undefined) return null
  const race = judgedOutcome(outcome.judged)
  return race.innerOnlyToBest > 0 ? race : null
}

/** Hybrid ÷ inner-only experiments by the judge; a hybrid arm that never reached counts its whole budget. */
const judgedRatio = (outcome: SeedOutcome, charged: boolean) => {
  const race = judgedRace(outcome)!
  return ((race.hybridToReach ?? outcome.experimentsPerArm) + (charged ? outcome.proxyRunEquivalents : 0)) / race.innerOnlyToBest
}

/** The benchmark's tables from its per-seed outcomes (also used to merge runs over disjoint seeds). */
export const searchTables = (outcomes: ReadonlyArray<SeedOutcome>, settings: SearchFacts["settings"]): Array<Table> => {
  const usable = outcomes.filter(informative)
  const ratios = usable.map(experimentRatio)
  const computeRatios = usable.map(computeRatio)
  const chargedRatios = usable.map(chargedRatio)
  const reached = usable.filter((outcome) => outcome.hybridToReach !== null).length
  const judgedSeeds = outcomes.filter((outcome) => judgedRace(outcome) !== null)
  const judgedRatios = judgedSeeds.map((outcome) => judgedRatio(outcome, false))
  const judgedCharged = judgedSeeds.map((outcome) => judgedRatio(outcome, true))
  const judgedReached = judgedSeeds.filter((outcome) => judgedRace(outcome)!.hybridToReach !== null).length
  const judge = outcomes.find((outcome) => outcome.judged !== undefined)?.judged
  const summary = (label: string, values: ReadonlyArray<number>, of: number) => [label, ratio(mean(values)), spread(values), ratio(Math.min(...values)), ratio(Math.max(...values)), `${values.length} of ${of}`]
  return [
    {
      title: "Search efficiency: hybrid experiments to reach the inner-only best ÷ inner-only experiments to its best",
      columns: ["measure", "mean", "sd", "min", "max", "seeds"],
      rows: [
        summary("code-search experiments, measured values (target ≤ 0.6×)", ratios, outcomes.length),
        summary("experiments, proxy runs charged as full-run equivalents", chargedRatios, outcomes.length),
        summary("process seconds, outer proxy runs charged", computeRatios, outcomes.length),
        ...(judge === undefined
          ? []
          : [summary("code-search experiments, judged (target ≤ 0.6×)", judgedRatios, outcomes.length), summary("judged, proxy runs charged as full-run equivalents", judgedCharged, outcomes.length)]),
      ],
      notes: [
        `Hybrid reached the inner-only best in ${reached} of ${usable.length} informative seeds; a seed where it did not counts its whole budget (${settings.experiments} experiments, all its process seconds), so its ratio is a lower bound.`,
        "A seed is informative when the inner-only arm kept at least one improvement (otherwise its experiments-to-best is 0).",
        ...(judge === undefined
          ? []
          : [
              `Judged: every incumbent of each arm (its base, then each keep) run again under tiny-lm's compute budget at ${judge.budgetSeconds} s, val_bpb averaged over seeds ${judge.seeds.join(", ")} (no search runs with them). The target is the inner-only arm's best judged incumbent; each arm's count is its first incumbent judged at least as good. Hybrid reached it in ${judgedReached} of ${judgedSeeds.length} seeds where inner-only's judged best is not its base.`,
            ]),
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
    ...(judge === undefined
      ? []
      : [
          {
            title: "Search efficiency per seed, judged (val_bpb under the compute-budget judge, lower is better)",
            columns: ["seed", "base", "inner-only best", "at experiment", "hybrid reached it at", "ratio", "inner-only final", "hybrid final", "hybrid incumbents (experiment: val_bpb)"],
            rows: outcomes.map((o) => {
              if (o.judged === undefined) return [o.seed, "–", "–", "–", "–", "–", "–", "–", "not judged"]
              const race = judgedOutcome(o.judged)
              return [
                o.seed,
                fixed(o.judged.innerOnly[0]!.value, 3),
                fixed(race.innerOnlyBest, 3),
                race.innerOnlyToBest,
                race.hybridToReach ?? `not within ${o.experimentsPerArm}`,
                judgedRace(o) === null ? "–" : ratio(judgedRatio(o, false)),
                fixed(race.innerOnlyFinal, 3),
                fixed(race.hybridFinal, 3),
                o.judged.hybrid.map((step) => `${step.seq}: ${step.value.toFixed(3)}`).join(", "),
              ]
            }),
            notes: ["Final: the incumbent each arm ended with, as judged; the best on the inner-only arm's path can be an earlier one (a keep whose measured gain the judge does not confirm)."],
          },
        ]),
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
    // The judge runs after each seed's search, never during one, so it does not load the machine a search measures on.
    const judge = scriptJudge(settings.timeBudgetSeconds, JUDGE_SEEDS)
    const outcomes: Array<SeedOutcome> = []
    for (const seed of seeds) {
      log(`search: seed ${seed}, both arms, then the judge`)
      outcomes.push(await runSeed(seed, settings, judge))
    }
    return { facts: { seeds: outcomes, settings }, tables: searchTables(outcomes, settings) }
  },
}
