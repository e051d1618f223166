/**
 * Orchestrator overhead per no-op experiment. The real code-search stage (offline proposer, one worker,
 * pipelining on) runs N experiments of a command that only prints a constant score, so every candidate is
 * discarded; side by side, the same command is spawned N times directly (half before the stage, half
 * after). The stage's cycle per experiment (candidate phase wall ÷ N) against the bare spawn is the
 * ratio; spans give the store's and the executor's share, and one `git status` in the worktree is timed as
 * a reference for the git work (two per discarded experiment: clean the worktree, check the edit's scope).
 */
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as path from "node:path"
import { Store } from "../src/services/Store.ts"
import { type Benchmark, fixed, mean, median, ratio } from "./support/benchmark.ts"
import { at, configFor, hasAncestor, knobsFile, makeProject, recordingTracer, runPipeline, spanWindow } from "./support/project.ts"

export interface OverheadFacts {
  readonly experiments: number
  readonly statuses: ReadonlyArray<string>
  /** Candidate phase wall ÷ experiments (ms). */
  readonly cycleMs: number
  /** Median of the bare spawns (ms). */
  readonly bareSpawnMs: number
  /** Mean process time the executor measured (ms). */
  readonly executorCommandMs: number
  /** Per experiment: Executor.run spans, Store spans outside them (ms). */
  readonly executorSpanMs: number
  readonly storeSpanMs: number
  readonly gitStatusMs: number
}

export const noopCommand = `node -e "console.log('score: 1')"`

/** Runs `command` through sh in `cwd` and waits for it to exit, reading its output; returns milliseconds. */
export const spawnOnce = (command: string, cwd: string) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const child = spawn("sh", ["-c", command], { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 && output.includes("score:") ? resolve(performance.now() - started) : reject(new Error(`bare spawn ended ${code}: ${output}`))))
  })

const spawnMany = async (count: number, cwd: string) => {
  const times: Array<number> = []
  for (let i = 0; i < count; i++) times.push(await spawnOnce(noopCommand, cwd))
  return times
}

export const orchestratorOverheadBenchmark: Benchmark<OverheadFacts> = {
  name: "overhead",
  title: "Orchestrator overhead per no-op experiment",
  run: async ({ quick, log }) => {
    const experiments = quick ? 6 : 40
    const root = makeProject({ "knobs.mjs": knobsFile(8) }, "twoloop-bench-overhead-")
    const target = path.join(root, "target")
    const config = configFor(root, {
      name: "overhead",
      model: "offline",
      target: { dir: "target", editable: ["knobs.mjs"], command: noopCommand, metric: { name: "score", direction: "maximize" }, timeBudgetSeconds: 5 },
      executor: { kind: "local", gpus: "none", cpuSlots: 1 },
      stages: [{ kind: "code-search", name: "inner", baselineRuns: 2, budget: { experiments: 2 + experiments } }],
    })
    log(`overhead: ${experiments} bare spawns, then the stage, then ${experiments} bare spawns`)
    const before = await spawnMany(Math.ceil(experiments / 2), target)
    const { tracer, spans } = recordingTracer()
    const run = await runPipeline(config, { tracer }, (summary) => Effect.flatMap(Effect.service(Store), (store) => store.experiments.listRunExperiments(summary.runId)))
    const after = await spawnMany(Math.floor(experiments / 2), target)
    const bare = [...before, ...after]

    const rows = run.after
    const baselines = rows.filter((row) => row.purpose === "baseline")
    const candidates = rows.filter((row) => row.purpose === "candidate")
    const start = Math.max(...baselines.map((row) => at(row.endedAt)))
    const end = Math.max(...candidates.map((row) => at(row.endedAt)))
    const inWindow = spans.flatMap((span) => {
      const window = spanWindow(span)
      return window && window.start >= start && window.end <= end + 1 ? [{ span, ms: window.end - window.start }] : []
    })
    const executorSpanMs = inWindow.filter(({ span }) => span.name === "Executor.run").reduce((sum, { ms }) => sum + ms, 0)
    const storeSpanMs = inWindow.filter(({ span }) => span.name.startsWith("Store.") && !hasAncestor(span, "Executor.run")).reduce((sum, { ms }) => sum + ms, 0)

    const worktree = path.join(run.summary.runDir, "worktrees", "inner-w0")
    const gitStatus = () => {
      const started = performance.now()
      execFileSync("git", ["status", "--porcelain=v1", "-z", "--untracked-files=all"], { cwd: worktree, stdio: "pipe" })
      return performance.now() - started
    }
    const gitTimes = Array.from({ length: 20 }, gitStatus)

    const n = candidates.length
    const facts: OverheadFacts = {
      experiments: n,
      statuses: candidates.map((row) => row.status),
      cycleMs: (end - start) / n,
      bareSpawnMs: median(bare),
      executorCommandMs: mean(candidates.map((row) => (row.seconds ?? 0) * 1000)),
      executorSpanMs: executorSpanMs / n,
      storeSpanMs: storeSpanMs / n,
      gitStatusMs: median(gitTimes),
    }
    const rest = facts.cycleMs - facts.executorSpanMs - facts.storeSpanMs
    return {
      facts,
      tables: [
        {
          title: "Orchestrator overhead per no-op experiment (ratios)",
          columns: ["measure", "ratio"],
          rows: [
            ["stage cycle per experiment ÷ bare spawn of the same command", ratio(facts.cycleMs / facts.bareSpawnMs)],
            ["executor-measured process time ÷ bare spawn", ratio(facts.executorCommandMs / facts.bareSpawnMs)],
            ["overhead outside the process ÷ bare spawn", ratio((facts.cycleMs - facts.bareSpawnMs) / facts.bareSpawnMs)],
          ],
        },
        {
          title: "Orchestrator overhead per no-op experiment (absolute, this machine only)",
          columns: ["per experiment", "ms"],
          rows: [
            ["bare spawn of `sh -c` + node (median)", fixed(facts.bareSpawnMs, 1)],
            ["stage cycle (candidate phase wall ÷ experiments)", fixed(facts.cycleMs, 1)],
            ["  overhead = cycle − bare spawn", fixed(facts.cycleMs - facts.bareSpawnMs, 1)],
            ["  Executor.run span (spawn, log, process-tree watch)", fixed(facts.executorSpanMs, 1)],
            ["  Store spans outside Executor.run (plan, finish, judge, list, events)", fixed(facts.storeSpanMs, 1)],
            ["  rest (git, edit guards, judging, results.tsv, proposal)", fixed(rest, 1)],
            ["one `git status` in the worktree (median, reference)", fixed(facts.gitStatusMs, 1)],
          ],
          notes: [
            `${n} candidate experiments (all discarded: the score is constant), offline proposer, pipelining on; bare spawns: ${bare.length}.`,
            `Command: \`${noopCommand}\`, run through \`sh -c\` in the worktree both ways.`,
          ],
        },
      ],
    }
  },
}
