/**
 * GEPA engine overhead per iteration. The real `optimize` (Pareto selection, minibatch sampling, offline
 * reflection, acceptance, checkpoint at every boundary) runs over an adapter whose evaluations cost
 * nothing, so the wall time is the engine's own: once with the in-memory state port and once with the
 * SQLite port of the gepa stage (a real store file), side by side. A decorating port stamps each
 * iteration's commit, which gives how the cost per iteration grows with the pool.
 */
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { Llm } from "../src/services/Llm.ts"
import { Prompts } from "../src/services/Prompts.ts"
import { Store } from "../src/services/Store.ts"
import type { GepaAdapter, GepaExample } from "../stages/gepa/adapter.ts"
import { componentText } from "../stages/gepa/candidate.ts"
import { optimize } from "../stages/gepa/optimize.ts"
import { makeSqliteStatePort } from "../stages/gepa/sqliteStatePort.ts"
import { type GepaStatePort, makeMemoryStatePort } from "../stages/gepa/statePort.ts"
import { type Benchmark, fixed, mean, percent, ratio } from "./support/benchmark.ts"
import { tempDir } from "./support/project.ts"

export interface GepaRun {
  readonly port: "memory" | "sqlite"
  readonly iterations: number
  readonly metricCalls: number
  readonly candidates: number
  readonly totalMs: number
  /** Mean ms per iteration over the first and the last quarter of the iterations. */
  readonly firstQuarterMs: number
  readonly lastQuarterMs: number
}

export interface GepaFacts {
  readonly runs: ReadonlyArray<GepaRun>
  readonly proxySeconds: number
}

/** A score in [0, 1) that is a pure function of the text and the example. */
const unit = (text: string, id: string) => createHash("sha256").update(`${text}\u0000${id}`).digest().readUInt32BE(0) / 2 ** 32

/**
 * Free evaluations: an example passes with a probability that rises with the number of words in its
 * component, so children that add words are accepted often and the pool keeps growing.
 */
const freeAdapter: GepaAdapter<GepaExample & { readonly component: string }> = {
  evaluate: (batch, candidate) =>
    batch.map((example) => {
      const text = componentText(candidate, example.component) ?? ""
      const words = text.split(/\s+/).length
      const score = unit(text, example.id) < Math.min(0.9, 0.2 + words * 0.03) ? 1 : 0
      return { score, output: score === 1 ? "pass" : "fail", trajectory: { words } }
    }),
  makeReflectiveDataset: (_candidate, evaluations, names) =>
    Object.fromEntries(
      names.map((name) => [
        name,
        evaluations.filter((e) => e.example.component === name).map((e) => ({ Inputs: e.example.id, "Generated Outputs": e.output, Feedback: e.score === 1 ? "correct" : "add detail" })),
      ]),
    ),
  offlineReflector: (candidate, _dataset, names, context) =>
    Object.fromEntries(names.map((name) => [name, `${componentText(candidate, name) ?? ""} step${context.iteration}-${Math.floor(context.random() * 1000)}`])),
}

const examples = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => ({ id: `${prefix}${index}`, component: index % 2 === 0 ? "instructions" : "directions" }))

const llmSettings = { timeoutSeconds: 5, retries: 0, cache: false, temperature: undefined, structuredOutputs: false, prices: {} }

/** Wraps a port so every commit (one per iteration boundary) is time-stamped. */
const stamped = (port: GepaStatePort, stamps: Array<number>): GepaStatePort => ({
  ...port,
  commit: (commit) => Effect.tap(port.commit(commit), () => Effect.sync(() => stamps.push(performance.now()))),
})

const runOnce = (kind: "memory" | "sqlite", iterations: number): Promise<GepaRun> => {
  const file = path.join(tempDir("twoloop-bench-gepa-"), "store.db")
  const program = Effect.gen(function* () {
    const store = yield* Store
    yield* store.runs.insertRun({ id: "bench", name: "bench", configFile: "-", configJson: "{}", configHash: "-", arms: ["hybrid"], targetDir: ".", targetCommit: null, targetDirty: false, runDir: "." })
    yield* store.runs.planStages("bench", [{ arm: "hybrid", position: 0, kind: "gepa", name: "outer" }])
    const [stage] = yield* store.runs.listStages("bench")
    const stamps: Array<number> = []
    const port = stamped(kind === "memory" ? makeMemoryStatePort() : yield* makeSqliteStatePort(stage!.id), stamps)
    const started = performance.now()
    const result = yield* optimize({
      adapter: freeAdapter,
      seedCandidate: { instructions: "Improve the model.", directions: "1. tune the learning rate" },
      trainset: examples("t", 24),
      valset: examples("v", 8),
      state: port,
      reflectionModel: "offline",
      budget: { iterations },
      seed: 1,
    })
    const totalMs = performance.now() - started
    // stamps[0] is the seed's commit; iteration k ends at stamps[k].
    const perIteration = stamps.slice(1).map((stamp, index) => stamp - stamps[index]!)
    const quarter = Math.max(1, Math.floor(perIteration.length / 4))
    return {
      port: kind,
      iterations: result.iterations,
      metricCalls: result.metricCalls,
      candidates: result.candidates.length,
      totalMs,
      firstQuarterMs: mean(perIteration.slice(0, quarter)),
      lastQuarterMs: mean(perIteration.slice(-quarter)),
    } satisfies GepaRun
  })
  const layer = Layer.mergeAll(Llm.layer(llmSettings), Prompts.layer).pipe(Layer.provideMerge(Store.layer(file)))
  return Effect.runPromise(program.pipe(Effect.provide(layer)))
}

export const gepaOverheadBenchmark: Benchmark<GepaFacts> = {
  name: "gepa",
  title: "GEPA engine overhead per iteration",
  run: async ({ quick, log }) => {
    const iterations = quick ? 30 : 1000
    const rounds = quick ? 1 : 3
    const proxySeconds = 2
    log(`gepa: a warm-up, then ${rounds} round(s) of ${iterations} iterations with the memory port and the SQLite port`)
    await runOnce("memory", Math.ceil(iterations / 10))
    const best: Partial<Record<GepaRun["port"], GepaRun>> = {}
    for (let round = 0; round < rounds; round++)
      for (const port of ["memory", "sqlite"] as const) {
        const run = await runOnce(port, iterations)
        if (best[port] === undefined || run.totalMs < best[port].totalMs) best[port] = run
      }
    const memory = best.memory!
    const sqlite = best.sqlite!
    const runs = [memory, sqlite]
    const perIteration = (run: GepaRun) => run.totalMs / run.iterations
    const callsPerIteration = (run: GepaRun) => run.metricCalls / run.iterations
    return {
      facts: { runs, proxySeconds },
      tables: [
        {
          title: "GEPA engine overhead per iteration (ratios)",
          columns: ["measure", "memory port", "SQLite port"],
          rows: [
            ["SQLite port ÷ memory port, per iteration", "1.00×", ratio(perIteration(sqlite) / perIteration(memory))],
            ["last quarter ÷ first quarter of the iterations (pool growth)", ratio(memory.lastQuarterMs / memory.firstQuarterMs), ratio(sqlite.lastQuarterMs / sqlite.firstQuarterMs)],
            [
              `engine time ÷ the proxy runs of one iteration (${proxySeconds} s each, run one after another)`,
              percent(perIteration(memory) / (callsPerIteration(memory) * proxySeconds * 1000), 3),
              percent(perIteration(sqlite) / (callsPerIteration(sqlite) * proxySeconds * 1000), 3),
            ],
          ],
        },
        {
          title: "GEPA engine overhead per iteration (absolute, this machine only)",
          columns: ["port", "iterations", "metric calls", "candidates", "ms / iteration", "first quarter ms", "last quarter ms", "µs / metric call"],
          rows: runs.map((run) => [
            run.port,
            run.iterations,
            run.metricCalls,
            run.candidates,
            fixed(perIteration(run), 3),
            fixed(run.firstQuarterMs, 3),
            fixed(run.lastQuarterMs, 3),
            fixed((run.totalMs * 1000) / run.metricCalls, 1),
          ]),
          notes: [
            `Best of ${rounds} alternating round(s) per port, after a warm-up run.`,
            "Adapter evaluations are free (a hash of the text), the reflector is offline and appends a word; train 24 examples, validation 8, minibatch 3, Pareto selection.",
            `The proxy comparison uses the default proxy budget of tiny-lm (${proxySeconds} s) as a lower bound on one evaluation.`,
          ],
        },
      ],
    }
  },
}
