/**
 * Store scale. Two real store files are filled through the store's own repository functions, in
 * transactions of one stage each: a small one and one ten times larger (by default 10 k and 100 k
 * experiments with 100 k and 1 M outer score rows). Rows are spread over runs of the same size (one gepa
 * stage with its candidates, proposals and scores, one code-search stage with its experiments and their
 * progress events), so per-run queries should cost the same in both files while listings grow. The
 * report (model and the written report), the typical reads and the dashboard's queries are timed on a run
 * in the middle of each.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import "../stages/index.ts"
import type { Judgement } from "../src/domain/Experiment.ts"
import { buildReport, loadReportData } from "../src/pipeline/report/model.ts"
import { writeReport } from "../src/pipeline/report/write.ts"
import { roleOf } from "../src/pipeline/StageKind.ts"
import { Store, type StoreShape } from "../src/services/Store.ts"
import * as experiments from "../src/services/store/experiments.ts"
import * as outer from "../src/services/store/outer.ts"
import * as runs from "../src/services/store/runs.ts"
import { type Benchmark, fixed, ratio } from "./support/benchmark.ts"
import { timeDashboardQueries } from "./support/dashboardQueries.ts"
import { tempDir } from "./support/project.ts"

export interface ScaleFill {
  readonly experiments: number
  readonly scores: number
  readonly runs: number
  readonly insertSeconds: number
  readonly fileMiB: number
  /** Row counts read back with COUNT(*). */
  readonly counted: { readonly experiments: number; readonly evaluations: number; readonly events: number; readonly candidates: number }
  /** Query name → best ms. */
  readonly queries: Readonly<Record<string, number>>
  /** Experiments the report of the probed run saw. */
  readonly reportExperiments: number
}

export interface StoreFacts {
  readonly small: ScaleFill
  readonly large: ScaleFill
  readonly experimentsPerRun: number
  readonly scoresPerRun: number
}

const logTail = `${"step 1000 | loss 3.2100 | lr 0.0500 | 12000 tok/s\n".repeat(14)}val_bpb: 3.3721\n`
const diff = `--- a/train.mjs\n+++ b/train.mjs\n@@ -9,7 +9,7 @@\n const OPTIMIZER = "sgd"\n-const LEARNING_RATE = 0.05 // peak learning rate\n+const LEARNING_RATE = 0.1 // peak learning rate\n const LR_SCHEDULE = "constant"\n`
const environment = { host: "bench", cpu: "bench cpu", cpus: 2, memoryGb: 23, os: "linux", node: process.version, python: null, torch: null, gpus: [] }

const judgement = (improvement: number, verdict: "keep" | "discard"): Judgement => ({
  verdict,
  incumbent: 3.37,
  candidateMean: 3.37 - improvement,
  runs: 1,
  improvement,
  sigma: 0.01,
  gate: 0.02,
  minDelta: 0,
  noiseK: 2,
  reason: verdict === "keep" ? "Δ 0.05 > gate 0.02" : "Δ ≤ 0",
})

/** Inserts one run: a gepa stage (candidates, proposals, `scoresPerRun` scores) and a code-search stage. */
const insertRun = (store: StoreShape, index: number, runDir: string, experimentsPerRun: number, scoresPerRun: number) =>
  Effect.gen(function* () {
    const runId = `run-${String(index).padStart(5, "0")}`
    yield* store.transaction((db) => {
      runs.insertRun(db, { id: runId, name: "bench", configFile: "pipeline.config.ts", configJson: "{}", configHash: "h", arms: ["hybrid"], targetDir: "/t", targetCommit: null, targetDirty: false, runDir })
      runs.planStages(db, runId, [
        { arm: "hybrid", position: 0, kind: "gepa", name: "outer" },
        { arm: "hybrid", position: 1, kind: "code-search", name: "inner" },
      ])
    })
    const [gepa, inner] = yield* store.runs.listStages(runId)
    const examplesPerCandidate = 50
    const candidates = Math.max(1, Math.floor(scoresPerRun / examplesPerCandidate))
    yield* store.transaction((db) => {
      for (let idx = 0; idx < candidates; idx++) {
        const hash = `${runId}-candidate-${idx}`
        const components = [["instructions", `Instructions of candidate ${idx}.`], ["directions", `1. tune LEARNING_RATE\n2. try OPTIMIZER ${idx}`]] as const
        outer.insertCandidate(db, gepa!.id, { idx, hash, components, parents: idx === 0 ? [] : [idx - 1], origin: idx === 0 ? "seed" : "reflection", libraryEntryId: null, iteration: idx, metricCalls: idx * 9, offline: true })
        if (idx > 0)
          outer.insertProposal(db, gepa!.id, { iteration: idx, kind: "reflection", parents: [idx - 1], components: ["instructions"], minibatch: ["s0", "s1", "s2"], sumBefore: 1, sumAfter: 2, accepted: true, reason: "minibatch sum 1 → 2", reflectionPrompt: null, reflectionOutput: null, childIdx: idx, offline: true, metricCalls: idx * 9 })
        outer.insertEvaluations(
          db,
          gepa!.id,
          Array.from({ length: examplesPerCandidate }, (_, example) => ({
            candidateHash: hash,
            split: example < 20 ? ("val" as const) : ("train" as const),
            exampleId: `s${example}`,
            score: ((idx * 31 + example * 17) % 100) / 100,
            output: { metric: 3.3 },
            trajectory: { proposal: "LEARNING_RATE 0.05 -> 0.1", status: "measured" },
            chargedIteration: idx,
          })),
        )
      }
      runs.completeStage(db, gepa!.id, { instructions: "Instructions.", directions: [] }, { metricCalls: candidates * examplesPerCandidate, offline: true })
    })
    yield* store.transaction((db) => {
      for (let seq = 1; seq <= experimentsPerRun; seq++) {
        const purpose = seq <= 2 ? "baseline" : "candidate"
        const row = experiments.planExperiment(db, {
          stageId: inner!.id,
          worker: 0,
          purpose,
          proposer: "offline",
          offline: true,
          baseCommit: "0123456789abcdef0123456789abcdef01234567",
          direction: purpose === "candidate" ? "tune LEARNING_RATE" : null,
          rationale: purpose === "candidate" ? "offline proposer: scale ×2" : null,
          description: purpose === "candidate" ? `LEARNING_RATE 0.05 -> 0.1 (#${seq})` : `baseline (seed ${seq - 1})`,
          edit: purpose === "candidate" ? { direction: "d", rationale: "r", description: "x", changes: [{ path: "train.mjs", kind: "replace", search: "LEARNING_RATE = 0.05", replace: "LEARNING_RATE = 0.1" }] } : null,
          seed: seq,
          timeBudget: 10,
        })
        const kept = purpose === "candidate" && seq % 10 === 0
        const crashed = purpose === "candidate" && seq % 20 === 7
        experiments.markExperimentRunning(db, row.id, { pid: 1000 + seq, host: "bench", logPath: `${runDir}/experiment-${row.id}.log` })
        experiments.finishExperiment(db, row.id, {
          status: purpose === "baseline" ? "measured" : crashed ? "crash" : kept ? "keep" : "discard",
          metric: crashed ? null : 3.37 - seq * 1e-5,
          seconds: 10.4,
          exitCode: crashed ? 1 : 0,
          peakMemoryMb: 120,
          logTail,
          reason: crashed ? "exit code 1" : null,
          judgement: purpose === "candidate" && !crashed ? judgement(kept ? 0.05 : -0.01, kept ? "keep" : "discard") : null,
          env: environment,
          resultCommit: kept ? `${String(seq).padStart(8, "0")}89abcdef0123456789abcdef01234567` : null,
          diff: purpose === "candidate" ? diff : null,
        })
        runs.addEvent(db, runId, inner!.id, "experiment-finished", `inner #${seq} [offline] discard LEARNING_RATE 0.05 -> 0.1`, { experimentId: row.id })
      }
      runs.completeStage(db, inner!.id, { commit: "c" }, {
        metric: "val_bpb",
        direction: "minimize",
        baseline: 3.37,
        best: 3.2,
        gain: 0.17,
        experimentsToBest: experimentsPerRun,
        bestCommit: "c",
        noiseSigma: 0.01,
        offline: true,
        workers: 1,
        timeBudgetSeconds: 10,
      })
      runs.setRunStatus(db, runId, "completed")
    })
    return runId
  })

const timeQuery = (repeats: number, query: Effect.Effect<unknown>) =>
  Effect.gen(function* () {
    const times: Array<number> = []
    for (let i = 0; i < repeats; i++) {
      const started = performance.now()
      yield* query
      times.push(performance.now() - started)
    }
    return Math.min(...times)
  })

/** Fills one store file with `runCount` runs and times the reads on the run in the middle. */
const fillAndProbe = (runCount: number, experimentsPerRun: number, scoresPerRun: number, log: (line: string) => void): Promise<ScaleFill> => {
  const dir = tempDir("twoloop-bench-store-")
  const file = path.join(dir, "twoloop.db")
  const runDir = path.join(dir, "runs", "probe")
  const program = Effect.gen(function* () {
    const store = yield* Store
    const started = performance.now()
    const ids: Array<string> = []
    for (let index = 0; index < runCount; index++) {
      ids.push(yield* insertRun(store, index, runDir, experimentsPerRun, scoresPerRun))
      if ((index + 1) % Math.max(1, Math.floor(runCount / 4)) === 0) log(`store: ${index + 1}/${runCount} runs inserted`)
    }
    const insertSeconds = (performance.now() - started) / 1000
    const counted = yield* store.use((db) => ({
      experiments: (db.prepare("SELECT COUNT(*) AS n FROM experiments").get() as { n: number }).n,
      evaluations: (db.prepare("SELECT COUNT(*) AS n FROM evaluations").get() as { n: number }).n,
      events: (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n,
      candidates: (db.prepare("SELECT COUNT(*) AS n FROM candidates").get() as { n: number }).n,
    }))
    yield* store.use((db) => db.pragma("wal_checkpoint(TRUNCATE)"))
    const fileMiB = fs.statSync(file).size / 2 ** 20

    const probe = ids[Math.floor(ids.length / 2)]!
    const [gepa, inner] = yield* store.runs.listStages(probe)
    const firstHash = `${probe}-candidate-0`
    const report = yield* loadReportData(store, probe, roleOf)
    const repeats = 7
    const queries: Record<string, number> = {
      "report model (load + build, one run)": yield* timeQuery(repeats, Effect.map(loadReportData(store, probe, roleOf), (data) => buildReport(data!))),
      "written report (report.md + chart, one run)": yield* timeQuery(3, writeReport(store, probe)),
      "list runs (latest 100)": yield* timeQuery(repeats, store.runs.listRuns(100)),
      "status counts of a run": yield* timeQuery(repeats, store.experiments.statusCounts({ runId: probe })),
      "experiments of a stage": yield* timeQuery(repeats, store.experiments.listExperiments(inner!.id)),
      "recent 12 experiments of a stage": yield* timeQuery(repeats, store.experiments.recentExperiments(inner!.id, 12)),
      "events of a run (first 1000)": yield* timeQuery(repeats, store.runs.listEvents(probe, 0, 1000)),
      "scores of one candidate (val)": yield* timeQuery(repeats, store.outer.getScores(gepa!.id, firstHash, "val")),
      "evaluations of a gepa stage": yield* timeQuery(repeats, store.outer.listEvaluations(gepa!.id)),
    }
    const probeExperiment = (yield* store.experiments.recentExperiments(inner!.id, 1))[0]!
    Object.assign(queries, timeDashboardQueries(file, probe, probeExperiment.id, repeats))
    return {
      experiments: counted.experiments,
      scores: counted.evaluations,
      runs: runCount,
      insertSeconds,
      fileMiB,
      counted,
      queries,
      reportExperiments: report?.experiments.length ?? 0,
    } satisfies ScaleFill
  })
  return Effect.runPromise(program.pipe(Effect.provide(Store.layer(file))))
}

export const storeScaleBenchmark: Benchmark<StoreFacts> = {
  name: "store",
  title: "Store scale",
  run: async ({ quick, log }) => {
    const experimentsPerRun = quick ? 250 : 1000
    const scoresPerRun = experimentsPerRun * 10
    const smallRuns = quick ? 4 : 10
    log(`store: ${smallRuns} runs, then ${smallRuns * 10} runs, of ${experimentsPerRun} experiments and ${scoresPerRun} scores each`)
    const small = await fillAndProbe(smallRuns, experimentsPerRun, scoresPerRun, log)
    const large = await fillAndProbe(smallRuns * 10, experimentsPerRun, scoresPerRun, log)
    const label = (fill: ScaleFill) => `${fill.experiments.toLocaleString("en")} exp / ${fill.scores.toLocaleString("en")} scores`
    return {
      facts: { small, large, experimentsPerRun, scoresPerRun },
      tables: [
        {
          title: `Store scale: query time at ${label(large)} ÷ at ${label(small)}`,
          columns: ["query", "ratio (large ÷ small)", `ms at ${label(small)}`, `ms at ${label(large)}`],
          rows: [
            ...Object.keys(small.queries).map((name) => [name, ratio(large.queries[name]! / small.queries[name]!), fixed(small.queries[name], 3), fixed(large.queries[name], 3)]),
            [
              "insert time per experiment (with its scores and events)",
              ratio(large.insertSeconds / large.experiments / (small.insertSeconds / small.experiments)),
              fixed((small.insertSeconds * 1000) / small.experiments, 3),
              fixed((large.insertSeconds * 1000) / large.experiments, 3),
            ],
          ],
          notes: [
            `Each run holds ${experimentsPerRun} experiments (with log tail, diff, judgement, environment), ${experimentsPerRun} progress events, and a gepa stage with ${scoresPerRun / 50} candidates × 50 scores; queries are timed on the run in the middle (best of 7, the written report and the dashboard's cold runs list best of 3).`,
            "Per-run queries stay flat when the indexes carry them; `list runs` and the dashboard's runs list cover every run (10× more in the large file).",
            "Dashboard \"cold\" is the first request after a write (the dashboard caches each run's report data until the store changes).",
          ],
        },
        {
          title: "Store scale (absolute, this machine only)",
          columns: ["file", "runs", "experiments", "scores", "events", "insert s", "experiments / s", "file MiB"],
          rows: [small, large].map((fill) => [
            fill === small ? "small" : "large",
            fill.runs,
            fill.counted.experiments,
            fill.counted.evaluations,
            fill.counted.events,
            fixed(fill.insertSeconds, 1),
            Math.round(fill.experiments / fill.insertSeconds),
            fixed(fill.fileMiB, 0),
          ]),
        },
      ],
    }
  },
}
