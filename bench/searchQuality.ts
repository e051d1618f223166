/**
 * Search quality against the tool a user would otherwise pick. On synthetic targets with a known optimum
 * and traps (bench/targets/synthetic.mjs), and on tiny-lm under a compute budget (bench/targets/tinyLm.ts),
 * side by side in one run: twoloop hybrid (GEPA on proxy runs,
 * then the code search), twoloop inner-only, Optuna TPE and Optuna random search (Debian's python3-optuna,
 * a benchmark peer only), all offline, each with the same number of full-budget runs. Proxy runs are
 * charged as full-run equivalents (their budget over the full budget). A system's configuration after k
 * runs is what it would hand the user then: twoloop's incumbent (its last kept commit), Optuna's best trial
 * so far. Every configuration is judged by the target's judge, which no search ever sees: the synthetic
 * targets' noise-free loss, tiny-lm's val_bpb averaged over seeds no search used.
 */
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Experiment } from "../src/domain/Experiment.ts"
import type { StageRecord } from "../src/domain/Run.ts"
import { loadReportData } from "../src/pipeline/report/model.ts"
import { roleOf } from "../src/pipeline/StageKind.ts"
import { Store } from "../src/services/Store.ts"
import { type Benchmark, benchSeeds, fixed, mean, standardDeviation, type Table } from "./support/benchmark.ts"
import { configFor, constantsOf, makeProject, runPipeline } from "./support/project.ts"
import { defaultsOf, FULL_BUDGET_SECONDS, noiseFreeLoss, type Range, type Target, targets, trainScript } from "./targets/synthetic.mjs"
import { tinyLmTarget } from "./targets/tinyLm.ts"

const harnessSource = path.join(import.meta.dirname, "targets", "synthetic.mjs")
const optunaPeer = path.join(import.meta.dirname, "optuna", "peer.py")

export type System = "hybrid" | "inner-only" | "tpe" | "random"
export const systems: ReadonlyArray<System> = ["hybrid", "inner-only", "tpe", "random"]

export type Params = Record<string, number | string | boolean>

/** A target as the four systems see it (a project with one editable script), and its judge, which none of them sees. */
export interface QualityTarget {
  readonly name: string
  readonly title: string
  /** The target folder: the editable `train.mjs` and its readonly harness files. */
  readonly files: Readonly<Record<string, string>>
  readonly readonly: ReadonlyArray<string>
  /** The metric line the script prints (`name: value`), lower is better. */
  readonly metric: string
  readonly fullBudgetSeconds: number
  readonly proxyBudgetSeconds: number
  /** Environment of every run (twoloop's target.env, the Optuna peer's trials). */
  readonly env: Readonly<Record<string, string>>
  /** The search space a user would give Optuna, and the script's defaults. */
  readonly space: Readonly<Record<string, Range>>
  readonly defaults: Params
  /** How the Optuna peer sets a trial's values: TARGET_PARAMS (read by the synthetic harness), or by rewriting the script's constants. */
  readonly apply: "env" | "edit"
  /** The judged loss of a configuration (constants over the defaults). */
  readonly loss: (params: Params) => number
  /** The known optimum; undefined: judged against the best final configuration any system reached. */
  readonly optimum: () => number | undefined
}

/** A synthetic target: judged by its noise-free loss, its optimum known. */
export const syntheticTarget = (target: Target, proxyBudgetSeconds: number): QualityTarget => ({
  name: target.name,
  title: target.title,
  files: { "train.mjs": trainScript(target), "harness.mjs": fs.readFileSync(harnessSource, "utf8") },
  readonly: ["harness.mjs"],
  metric: "loss",
  fullBudgetSeconds: FULL_BUDGET_SECONDS,
  proxyBudgetSeconds,
  env: {},
  space: target.space,
  defaults: defaultsOf(target),
  apply: "env",
  loss: (params) => noiseFreeLoss(target, params),
  optimum: () => optimumOf(target),
})

/** A system's history: after `cost` full-run equivalents, the configuration it would hand over. */
export interface Trajectory {
  readonly points: ReadonlyArray<{ readonly cost: number; readonly params: Params }>
  /** Full-run equivalents spent on proxy runs (the hybrid arm's outer stage). */
  readonly proxyCost: number
}

export interface SeedResult {
  readonly target: string
  readonly system: System
  readonly seed: number
  /** Noise-free loss of the configuration after the budget. */
  readonly final: number
  /** Full-run equivalents until the configuration first closed 90 % of the gap to the optimum; null: never. */
  readonly runsTo90: number | null
  readonly proxyCost: number
}

export interface TargetFacts {
  readonly target: string
  readonly title: string
  readonly start: number
  /** The known optimum, or (`optimumKnown` false) the best final configuration any system reached. */
  readonly optimum: number
  readonly optimumKnown?: boolean
  readonly results: ReadonlyArray<SeedResult>
}

export interface QualitySettings {
  readonly seeds: ReadonlyArray<number>
  readonly runs: number
  readonly metricCalls: number
  readonly scenarios: number
  /** The synthetic targets' proxy budget (tiny-lm brings its own). */
  readonly proxyTimeBudgetSeconds: number
  readonly targets: ReadonlyArray<string>
}

/** The configuration after `budget` full-run equivalents. */
export const configurationAt = (trajectory: Trajectory, budget: number): Params =>
  trajectory.points.filter((point) => point.cost <= budget + 1e-9).at(-1)?.params ?? trajectory.points[0]!.params

/** Full-run equivalents until the configuration's loss first reaches `threshold` (within `budget`); null when it never does. */
export const costToReach = (trajectory: Trajectory, loss: (params: Params) => number, threshold: number, budget: number): number | null => {
  for (const point of trajectory.points) {
    if (point.cost > budget + 1e-9) return null
    if (loss(point.params) <= threshold) return point.cost
  }
  return null
}

/** A numeric minimisation of the noise-free objective at full fidelity over the user's search space (the known optimum). */
export const optimumOf = (target: Target): number => {
  const names = Object.keys(target.space)
  const grid = (name: string): Array<number | string> => {
    const range = target.space[name]!
    if ("choices" in range) return [...range.choices]
    const steps = 160
    const values = Array.from({ length: steps + 1 }, (_, i) =>
      range.log ? Math.exp(Math.log(range.low) + ((Math.log(range.high) - Math.log(range.low)) * i) / steps) : range.low + ((range.high - range.low) * i) / steps,
    )
    return range.int ? [...new Set(values.map(Math.round))] : values
  }
  // Categorical strings (optimizers, schedules) interact with the numbers: every combination of them is
  // held fixed while coordinate descent over the rest runs from the defaults until nothing moves.
  const isLabel = (name: string) => "choices" in target.space[name]! && typeof grid(name)[0] === "string"
  const labels = names.filter(isLabel)
  const numeric = names.filter((name) => !isLabel(name))
  const grids = new Map(numeric.map((name) => [name, grid(name)]))
  const loss = (params: Params) => noiseFreeLoss(target, params)
  const combinations = labels.reduce<Array<Params>>((acc, name) => acc.flatMap((partial) => grid(name).map((choice) => ({ ...partial, [name]: choice }))), [{}])
  let best = { params: defaultsOf(target) as Params, loss: loss(defaultsOf(target)) }
  // Random restarts too (constraints such as a memory limit make coordinate descent stop on a boundary).
  let state = 12345
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const starts = combinations.flatMap((combination) => [
    { ...defaultsOf(target), ...combination },
    ...Array.from({ length: 40 }, () => ({ ...defaultsOf(target), ...combination, ...Object.fromEntries(numeric.map((name) => [name, grid(name)[Math.floor(random() * grid(name).length)]!])) })),
  ])
  for (const start of starts) {
    let point: Params = start
    let value = loss(point)
    for (let sweep = 0; sweep < 40; sweep++) {
      let moved = false
      for (const name of numeric) {
        for (const candidate of grids.get(name)!) {
          const next = { ...point, [name]: candidate }
          const nextValue = loss(next)
          if (nextValue < value - 1e-12) {
            point = next
            value = nextValue
            moved = true
          }
        }
      }
      if (!moved) break
    }
    if (value < best.loss) best = { params: point, loss: value }
  }
  return best.loss
}

/** A row that ran (a rejected edit never starts; a proxy result reused for the same edit and seed is never started). */
const ran = (row: Experiment) => row.startedAt !== null && !["planned", "running"].includes(row.status)

/** Both twoloop arms on one target and seed: one pipeline run with arms hybrid and inner-only. */
export const runTwoloop = async (target: QualityTarget, seed: number, settings: QualitySettings): Promise<Record<"hybrid" | "inner-only", Trajectory>> => {
  const root = makeProject(target.files, `twoloop-bench-${target.name}-`)
  const config = configFor(root, {
    name: `quality-${target.name}`,
    model: "offline",
    reflectionModel: "offline",
    seed,
    target: {
      dir: "target",
      editable: ["train.mjs"],
      readonly: target.readonly,
      command: "node train.mjs",
      metric: { name: target.metric, direction: "minimize" },
      timeBudgetSeconds: target.fullBudgetSeconds,
      ...(Object.keys(target.env).length > 0 ? { env: target.env } : {}),
    },
    executor: { kind: "local", gpus: "none", cpuSlots: 1 },
    arms: ["hybrid", "inner-only"],
    stages: [
      { kind: "gepa", name: "outer", budget: { metricCalls: settings.metricCalls }, adapter: { kind: "research", scenarios: settings.scenarios, proxyTimeBudgetSeconds: target.proxyBudgetSeconds } },
      { kind: "code-search", name: "inner", budget: { experiments: settings.runs } },
    ],
  })
  const { after } = await runPipeline(config, {}, () =>
    Effect.gen(function* () {
      const store = yield* Store
      const runs = yield* store.runs.listRuns(1)
      const data = (yield* loadReportData(store, runs[0]!.id, roleOf))!
      return { stages: data.stages, experiments: data.experiments }
    }),
  )
  const show = (commit: string) => execFileSync("git", ["show", `${commit}:target/train.mjs`], { cwd: root, encoding: "utf8" })
  const trajectoryOf = (arm: string): Trajectory => {
    const stagesOfArm = after.stages.filter((stage: StageRecord) => stage.arm === arm)
    const points: Array<{ cost: number; params: Params }> = [{ cost: 0, params: target.defaults }]
    let cost = 0
    let proxyCost = 0
    for (const stage of stagesOfArm) {
      const rows = after.experiments.filter((row) => row.stageId === stage.id).sort((a, b) => a.seq - b.seq)
      for (const row of rows) {
        if (!ran(row)) continue
        const charge = Math.min(1, row.timeBudget / target.fullBudgetSeconds)
        cost += charge
        if (roleOf(stage.kind) === "outer") proxyCost += charge
        if (row.status === "keep" && row.resultCommit) points.push({ cost, params: constantsOf(show(row.resultCommit)) })
      }
    }
    return { points, proxyCost }
  }
  return { hybrid: trajectoryOf("hybrid"), "inner-only": trajectoryOf("inner-only") }
}

/** The python that has Optuna: TWOLOOP_PYTHON, else Debian's /usr/bin/python3, else python3; undefined when none imports it. */
export const optunaPython = (): string | undefined => {
  for (const candidate of [process.env.TWOLOOP_PYTHON, "/usr/bin/python3", "python3"].filter((c): c is string => Boolean(c))) {
    const probe = spawnSync(candidate, ["-c", "import optuna"], { stdio: "ignore" })
    if (probe.status === 0) return candidate
  }
  return undefined
}

/** Optuna on one target for every seed (one study per seed), each trial one full-budget run of the real script. */
export const runOptuna = (python: string, target: QualityTarget, sampler: "tpe" | "random", settings: QualitySettings): Map<number, Trajectory> => {
  const project = makeProject(target.files, `twoloop-bench-optuna-${target.name}-`)
  const job = {
    project: path.join(project, "target"),
    command: "node train.mjs",
    metric: target.metric,
    env: target.env,
    apply: target.apply,
    file: "train.mjs",
    space: target.space,
    defaults: target.defaults,
    sampler,
    seeds: settings.seeds,
    trials: settings.runs,
    budget: target.fullBudgetSeconds,
  }
  const result = spawnSync(python, [optunaPeer], { input: JSON.stringify(job), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  if (result.status !== 0) throw new Error(`optuna peer failed: ${result.stderr.trim().split("\n").at(-1)}`)
  const output = JSON.parse(result.stdout) as { seeds: Array<{ seed: number; trials: Array<{ params: Params; value: number | null }> }> }
  return new Map(
    output.seeds.map(({ seed, trials }) => {
      const points: Array<{ cost: number; params: Params }> = [{ cost: 0, params: target.defaults }]
      let best = Number.POSITIVE_INFINITY
      trials.forEach((trial, index) => {
        if (trial.value !== null && trial.value < best) {
          best = trial.value
          points.push({ cost: index + 1, params: { ...target.defaults, ...trial.params } })
        }
      })
      return [seed, { points, proxyCost: 0 }]
    }),
  )
}

export const evaluateTarget = async (target: QualityTarget, settings: QualitySettings, log: (line: string) => void, python: string | undefined): Promise<TargetFacts> => {
  const trajectories: Array<{ system: System; seed: number; trajectory: Trajectory }> = []
  for (const seed of settings.seeds) {
    log(`quality: ${target.name}, seed ${seed}, twoloop hybrid and inner-only`)
    const arms = await runTwoloop(target, seed, settings)
    for (const arm of ["hybrid", "inner-only"] as const) trajectories.push({ system: arm, seed, trajectory: arms[arm] })
  }
  if (python) {
    for (const sampler of ["tpe", "random"] as const) {
      log(`quality: ${target.name}, Optuna ${sampler}, ${settings.seeds.length} seeds`)
      const bySeed = runOptuna(python, target, sampler, settings)
      for (const seed of settings.seeds) trajectories.push({ system: sampler, seed, trajectory: bySeed.get(seed)! })
    }
  }
  log(`quality: ${target.name}, judging ${trajectories.length} final configurations`)
  const start = target.loss(target.defaults)
  const finals = trajectories.map(({ trajectory }) => target.loss(configurationAt(trajectory, settings.runs)))
  const known = target.optimum()
  const optimum = known ?? Math.min(start, ...finals)
  const threshold = start - 0.9 * (start - optimum)
  const results = trajectories.map(({ system, seed, trajectory }, index): SeedResult => ({
    target: target.name,
    system,
    seed,
    final: finals[index]!,
    runsTo90: costToReach(trajectory, target.loss, threshold, settings.runs),
    proxyCost: trajectory.proxyCost,
  }))
  return { target: target.name, title: target.title, start, optimum, optimumKnown: known !== undefined, results }
}

const systemLabel: Record<System, string> = { hybrid: "twoloop hybrid", "inner-only": "twoloop inner-only", tpe: "Optuna TPE", random: "Optuna random" }

export const qualityTables = (facts: ReadonlyArray<TargetFacts>, settings: QualitySettings, optuna: boolean): Array<Table> => {
  const summary: Table = {
    title: `Search quality: judged loss of each system's configuration after ${settings.runs} full-budget runs (mean over ${settings.seeds.length} seeds; lower is better)`,
    columns: ["target", "start", "optimum", ...systems.map((s) => systemLabel[s]), "hybrid gap closed"],
    rows: facts.map((f) => {
      const finals = (system: System) => f.results.filter((r) => r.system === system).map((r) => r.final)
      const cell = (system: System) => (finals(system).length === 0 ? "–" : `${fixed(mean(finals(system)), 3)} ± ${fixed(standardDeviation(finals(system)), 3)}`)
      const hybrid = mean(finals("hybrid"))
      const optimum = f.optimumKnown === false ? `${fixed(f.optimum, 3)} (best found)` : fixed(f.optimum, 3)
      return [f.target, fixed(f.start, 3), optimum, ...systems.map(cell), `${fixed((100 * (f.start - hybrid)) / (f.start - f.optimum), 0)} %`]
    }),
    notes: [
      "± is the standard deviation over seeds. Proxy runs are charged: the hybrid arm's configuration is the one it had after its outer stage's proxy runs (each charged its budget ÷ the full budget) and its code search together used the same number of full-run equivalents as the others.",
      optuna ? "Optuna: one study per seed, the defaults enqueued as the first trial, the search space a user would write (bench/targets/), a crash or NaN a failed trial." : "Optuna columns are empty: no python with optuna (apt-get install python3-optuna).",
      "Judged loss: a synthetic target's noise-free loss (no search sees it); tiny-lm's val_bpb under its compute budget, the mean over judge seeds no search used. Where the optimum is unknown (best found), the gap is measured to the best final configuration of any system and seed.",
    ],
  }
  const speed: Table = {
    title: "Full-budget runs (proxy runs charged) until the configuration closed 90 % of the gap from start to optimum: mean over seeds that got there [seeds that did]",
    columns: ["target", ...systems.map((s) => systemLabel[s]), "hybrid proxy cost"],
    rows: facts.map((f) => {
      const cell = (system: System) => {
        const rows = f.results.filter((r) => r.system === system)
        if (rows.length === 0) return "–"
        const reached = rows.filter((r) => r.runsTo90 !== null).map((r) => r.runsTo90!)
        return reached.length === 0 ? `never [0/${rows.length}]` : `${fixed(mean(reached), 1)} [${reached.length}/${rows.length}]`
      }
      const proxy = f.results.filter((r) => r.system === "hybrid").map((r) => r.proxyCost)
      return [f.target, ...systems.map(cell), fixed(mean(proxy), 1)]
    }),
    notes: facts.map((f) => `${f.target}: ${f.title}.`),
  }
  return [summary, speed]
}

/** Hybrid against each other system, seed by seed: how often better, equal, worse; the mean paired difference and its standard error. */
export const pairedTable = (targets: ReadonlyArray<TargetFacts>): Table => {
  const others = systems.filter((s) => s !== "hybrid")
  const rows = targets.flatMap((target) => {
    const bySeed = (system: System) => new Map(target.results.filter((r) => r.system === system).map((r) => [r.seed, r.final]))
    const hybrid = bySeed("hybrid")
    return others.flatMap((other) => {
      const theirs = bySeed(other)
      const diffs = [...hybrid].filter(([seed]) => theirs.has(seed)).map(([seed, value]) => theirs.get(seed)! - value)
      if (diffs.length === 0) return []
      const count = (test: (d: number) => boolean) => diffs.filter(test).length
      const se = diffs.length > 1 ? standardDeviation(diffs) / Math.sqrt(diffs.length) : Number.NaN
      return [[target.target, other, count((d) => d > 1e-9), count((d) => Math.abs(d) <= 1e-9), count((d) => d < -1e-9), `${fixed(mean(diffs), 4)} ± ${fixed(se, 4)}`]]
    })
  })
  return {
    title: "Hybrid against each system, seed by seed (judged loss; a positive difference favours hybrid)",
    columns: ["target", "against", "hybrid better", "equal", "hybrid worse", "mean difference ± standard error"],
    rows,
    notes: ["Equal: the same final configuration's loss to 1e-9 (often the same configuration)."],
  }
}

export const searchQualityBenchmark: Benchmark<{ readonly settings: QualitySettings; readonly targets: ReadonlyArray<TargetFacts> }> = {
  name: "quality",
  title: "Search quality on synthetic targets and tiny-lm: twoloop hybrid and inner-only vs Optuna TPE and random search",
  run: async ({ quick, log }) => {
    let settings: QualitySettings = quick
      ? { seeds: [0], runs: 12, metricCalls: 12, scenarios: 3, proxyTimeBudgetSeconds: 2, targets: ["interaction", "cliffs"] }
      : { seeds: [0, 1, 2, 3, 4, 5, 6, 7], runs: 30, metricCalls: 24, scenarios: 3, proxyTimeBudgetSeconds: 2, targets: [...targets.map((t) => t.name), "tiny-lm"] }
    // TWOLOOP_BENCH_TARGETS=a,b and TWOLOOP_BENCH_SEEDS=0,1 narrow a run (to look into one target).
    const only = process.env.TWOLOOP_BENCH_TARGETS?.split(",").filter((name) => name.length > 0)
    const seeds = benchSeeds()
    if (seeds) settings = { ...settings, seeds }
    const wanted = only ?? settings.targets
    const selected = [...targets.map((t) => syntheticTarget(t, settings.proxyTimeBudgetSeconds)), tinyLmTarget()].filter((t) => wanted.includes(t.name))
    const unknown = wanted.filter((name) => !selected.some((t) => t.name === name))
    if (unknown.length > 0) throw new Error(`TWOLOOP_BENCH_TARGETS: no target ${unknown.join(", ")} (there are ${[...targets.map((t) => t.name), "tiny-lm"].join(", ")})`)
    const python = optunaPython()
    if (!python) log("quality: no python with optuna found; the Optuna peer is skipped (apt-get install python3-optuna)")
    const facts: Array<TargetFacts> = []
    for (const target of selected) facts.push(await evaluateTarget(target, settings, log, python))
    return { facts: { settings, targets: facts }, tables: qualityTables(facts, settings, python !== undefined) }
  },
}
