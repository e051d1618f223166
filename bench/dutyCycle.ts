/**
 * Slot duty cycle, pipelined vs serial. The real code-search stage runs with its LLM agent proposer, whose
 * model is an AI SDK mock that answers after a fixed latency L (a valid edit of a constant), on a target
 * whose command sleeps R seconds and prints a constant score (so every candidate is discarded and the
 * incumbent never moves). Duty cycle = time the slot ran experiment processes ÷ wall time of the candidate
 * phase (end of the last baseline to the end of the last candidate). Serial ideally gives R/(L+R),
 * pipelined R/max(L,R). Besides the timings, each cell counts the proposals requested while the previous
 * candidate was still running: what pipelining does, whatever the machine's speed.
 */
import type { LanguageModelV3GenerateResult } from "@ai-sdk/provider"
import { MockLanguageModelV3 } from "ai/test"
import { Effect } from "effect"
import { Llm } from "../src/services/Llm.ts"
import { Store } from "../src/services/Store.ts"
import { type Benchmark, fixed, percent, ratio } from "./support/benchmark.ts"
import { at, configFor, knobsFile, makeProject, runPipeline } from "./support/project.ts"

export interface DutyCell {
  readonly runSeconds: number
  readonly latencySeconds: number
  readonly experiments: number
  readonly serial: number
  readonly pipelined: number
  /** Pipelined, from the start of the first candidate: the steady state, without the first proposal's wait. */
  readonly pipelinedSteady: number
  /** Proposals (after the first) requested before the previous candidate's run had ended, per mode. */
  readonly overlappedProposals: { readonly serial: number; readonly pipelined: number }
}

export interface DutyFacts {
  readonly cells: ReadonlyArray<DutyCell>
}

const textResult = (text: string): LanguageModelV3GenerateResult => ({
  content: [{ type: "text", text }],
  finishReason: { unified: "stop", raw: "stop" },
  usage: {
    inputTokens: { total: 1000, noCache: 1000, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 100, text: 100, reasoning: undefined },
  },
  warnings: [],
})

/**
 * A model that replies after `latencyMs` with a new value for KNOB_0 (every reply a different edit); it
 * records when each call came (epoch ms).
 */
const latencyModel = (latencyMs: number, calledAt: Array<number>) => {
  let calls = 0
  return new MockLanguageModelV3({
    doGenerate: async () => {
      calledAt.push(Date.now())
      calls += 1
      await new Promise((resolve) => setTimeout(resolve, latencyMs))
      const value = calls + 10
      return textResult(
        JSON.stringify({
          direction: "knobs",
          rationale: "benchmark proposal",
          description: `KNOB_0 0.1 -> ${value}`,
          changes: [{ path: "knobs.mjs", kind: "replace", search: "const KNOB_0 = 0.1\n", replace: `const KNOB_0 = ${value}\n` }],
        }),
      )
    },
  })
}

const llmSettings = { timeoutSeconds: 60, retries: 0, cache: false, temperature: undefined, structuredOutputs: true, prices: {} }

/** Duty cycle of one stage run with proposal latency L and run time R. */
export const measureDutyCycle = async (options: { runSeconds: number; latencySeconds: number; experiments: number; pipelining: boolean }) => {
  const root = makeProject({ "knobs.mjs": knobsFile(4) }, "twoloop-bench-duty-")
  const config = configFor(root, {
    name: "duty-cycle",
    model: "openai:latency-mock",
    target: {
      dir: "target",
      editable: ["knobs.mjs"],
      command: `sleep ${options.runSeconds}; echo "score: 1"`,
      metric: { name: "score", direction: "maximize" },
      timeBudgetSeconds: Math.max(1, options.runSeconds),
    },
    executor: { kind: "local", gpus: "none", cpuSlots: 1 },
    stages: [
      {
        kind: "code-search",
        name: "inner",
        proposer: "llm",
        baselineRuns: 2,
        fixAttempts: 0,
        pipelining: options.pipelining,
        budget: { experiments: 2 + options.experiments },
      },
    ],
  })
  const calledAt: Array<number> = []
  const model = latencyModel(options.latencySeconds * 1000, calledAt)
  const { after: rows } = await runPipeline(config, { llm: Llm.layerWith(llmSettings, () => model) }, (summary) =>
    Effect.flatMap(Effect.service(Store), (store) => store.experiments.listRunExperiments(summary.runId)),
  )
  const baselines = rows.filter((row) => row.purpose === "baseline")
  const candidates = rows.filter((row) => row.purpose === "candidate")
  const start = Math.max(...baselines.map((row) => at(row.endedAt)))
  const end = Math.max(...candidates.map((row) => at(row.endedAt)))
  const firstStarted = Math.min(...candidates.map((row) => at(row.startedAt)))
  const busy = candidates.reduce((sum, row) => sum + (row.seconds ?? 0), 0)
  // Call k asked for candidate k; it overlapped when it came before candidate k-1's run had ended.
  const overlapped = calledAt.slice(1, candidates.length).filter((called, k) => called < at(candidates[k]!.endedAt)).length
  return { duty: busy / ((end - start) / 1000), steady: busy / ((end - firstStarted) / 1000), experiments: candidates.length, overlapped, statuses: candidates.map((row) => row.status) }
}

export const dutyCycleBenchmark: Benchmark<DutyFacts> = {
  name: "duty-cycle",
  title: "Slot duty cycle, pipelined vs serial",
  run: async ({ quick, log }) => {
    const grid = quick
      ? [{ runSeconds: 0.3, latencyFactors: [1] }]
      : [
          { runSeconds: 0.25, latencyFactors: [0.25, 0.5, 1, 2] },
          { runSeconds: 1, latencyFactors: [0.25, 0.5, 1, 2] },
          // Closer to real experiments (minutes), where the per-experiment orchestration becomes negligible.
          { runSeconds: 5, latencyFactors: [0.5] },
        ]
    const experiments = quick ? 4 : 6
    const cells: Array<DutyCell> = []
    for (const { runSeconds, latencyFactors } of grid) {
      for (const factor of latencyFactors) {
        const latencySeconds = runSeconds * factor
        log(`duty cycle: R = ${runSeconds} s, L = ${latencySeconds} s`)
        const serial = await measureDutyCycle({ runSeconds, latencySeconds, experiments, pipelining: false })
        const pipelined = await measureDutyCycle({ runSeconds, latencySeconds, experiments, pipelining: true })
        cells.push({
          runSeconds,
          latencySeconds,
          experiments: Math.min(serial.experiments, pipelined.experiments),
          serial: serial.duty,
          pipelined: pipelined.duty,
          pipelinedSteady: pipelined.steady,
          overlappedProposals: { serial: serial.overlapped, pipelined: pipelined.overlapped },
        })
      }
    }
    return {
      facts: { cells },
      tables: [
        {
          title: "Slot duty cycle (code-search stage, LLM proposer with latency L, command sleeping R)",
          columns: ["R (s)", "L (s)", "L/R", "serial", "pipelined", "pipelined ÷ serial", "pipelined, steady state", "ideal serial R/(L+R)", "ideal pipelined R/max(L,R)", "proposals asked during a run (serial, pipelined)"],
          rows: cells.map((cell) => [
            fixed(cell.runSeconds),
            fixed(cell.latencySeconds),
            fixed(cell.latencySeconds / cell.runSeconds),
            percent(cell.serial),
            percent(cell.pipelined),
            ratio(cell.pipelined / cell.serial),
            percent(cell.pipelinedSteady),
            percent(cell.runSeconds / (cell.latencySeconds + cell.runSeconds)),
            percent(cell.runSeconds / Math.max(cell.latencySeconds, cell.runSeconds)),
            `${cell.overlappedProposals.serial}, ${cell.overlappedProposals.pipelined} of ${cell.experiments - 1}`,
          ]),
          notes: [
            `${experiments} candidate experiments per cell and mode, after 2 baseline runs; one worker, one CPU slot.`,
            "Duty cycle = Σ experiment process seconds ÷ wall seconds from the end of the last baseline to the end of the last candidate.",
            "The gap to the ideal is the per-experiment orchestration (git, store, spawn, judging) plus the first proposal, which nothing can hide.",
            "Steady state: the same, measured from the start of the first candidate (the first proposal's wait excluded, as it is once per run).",
            "Proposals asked during a run: of the proposals after the first, those requested before the previous candidate's run had ended.",
          ],
        },
      ],
    }
  },
}
