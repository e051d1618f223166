/**
 * The research adapter: GEPA over the research agent's `instructions` and `directions`, scored on cheap
 * proxy runs of the real target. An example is a scenario (a seed, at the proxy time budget). Evaluating a
 * candidate on a scenario: the agent with this candidate proposes one edit (the LLM agent, or the offline
 * proposer taking the scenario's rank among the moves its directions order), the edit runs at the proxy
 * budget, and the score is `proxyScore` of the improvement over that scenario's baseline run.
 *
 * Each (candidate, scenario) is one `proxy` experiment row keyed by scenario and candidate hash, so a
 * replayed evaluation (crash, or the validation pass after a train pass) reuses the run instead of
 * running it again. Scenario baselines are measured once each.
 */
import { Effect, Semaphore } from "effect"
import type { ResolvedConfig } from "../../../src/config.ts"
import type { Edit } from "../../../src/domain/Edit.ts"
import type { Direction } from "../../../src/domain/Handoff.ts"
import type { Experiment } from "../../../src/domain/Experiment.ts"
import { StageFailed } from "../../../src/domain/errors.ts"
import { makeRng } from "../../../src/common/rng.ts"
import type { StageServices } from "../../../src/pipeline/StageKind.ts"
import { Progress } from "../../../src/services/Progress.ts"
import { Store } from "../../../src/services/Store.ts"
import { truncate } from "../../experiment-kit/agentPrompt.ts"
import { moveKey, rankProposals } from "../../experiment-kit/moves.ts"
import { changesOfEdit, findTunables } from "../../experiment-kit/tunables/index.ts"
import { makeAgentProposer } from "../../experiment-kit/proposers.ts"
import type { TargetWorkspace } from "../../experiment-kit/targetWorkspace.ts"
import { runExperiment } from "../../experiment-kit/runner.ts"
import { seedsIgnoredWarning, seedsLookIgnored } from "../../experiment-kit/seeds.ts"
import type { ExampleEvaluation, GepaAdapter } from "../adapter.ts"
import { candidateHash, type Components } from "../candidate.ts"
import { parseDirections, type ProxyObservation, proxyScore, reflectDirectionsOffline, reflectInstructionsOffline, relativeImprovement } from "./directions.ts"

export interface Scenario {
  readonly id: string
  readonly index: number
  readonly seed: number
}

export interface ResearchSettings {
  readonly runId: string
  readonly stageId: number
  readonly stageName: string
  readonly config: ResolvedConfig
  readonly workspace: TargetWorkspace
  readonly proxyTimeBudgetSeconds: number
  readonly scoreRange: number
  /** The model the agent proposes with (`offline`: the offline proposer). */
  readonly agentModel: string
  readonly scenarios: ReadonlyArray<Scenario>
}

const componentText = (components: Components, name: string) => components.find(([n]) => n === name)?.[1] ?? ""

export const makeResearchAdapter = (settings: ResearchSettings) =>
  Effect.gen(function* () {
    const { workspace, config } = settings
    const { setup, runner, slots } = workspace
    const offline = settings.agentModel === "offline"
    const baseFiles = yield* runner.filesAt(setup.baseCommit)
    const context = runner.tunables
    const constantNames = findTunables(baseFiles, context).map((t) => t.name)

    /**
     * The offline agent's edit for scenario k: the move of the candidate's k-th direction (a `set` direction
     * exactly, another the move engine's first move for what it names), skipping moves an earlier direction
     * already took, so the scenarios together measure the candidate's top directions. A function of the
     * candidate and the scenario only (what GEPA evaluates).
     */
    const offlineScenarioEdit = (directions: ReadonlyArray<Direction>, index: number): Edit | undefined => {
      const taken = new Set<string>()
      let chosen: Edit | undefined
      for (let k = 0; k <= index; k++) {
        chosen = undefined
        const direction = directions[k % Math.max(1, directions.length)]
        const ranked = rankProposals({ files: baseFiles, directions: direction ? [direction] : [], history: [], pending: [], rng: makeRng(config.seed * 7919 + k), ...(context ? { context } : {}) })
        const proposal = ranked.find((p) => !taken.has(moveKey(p.move.changes)))
        if (!proposal) continue
        taken.add(moveKey(proposal.move.changes))
        chosen = proposal.edit
      }
      return chosen
    }
    const gate = yield* Semaphore.make(setup.worktrees.length)
    const busy = setup.worktrees.map(() => false)
    const scenarioLocks = new Map<string, Semaphore.Semaphore>()
    for (const scenario of settings.scenarios) scenarioLocks.set(scenario.id, yield* Semaphore.make(1))
    const keyLocks = new Map<string, Semaphore.Semaphore>()

    const withPlacement = <A, E, R>(body: (worker: number) => Effect.Effect<A, E, R>) =>
      Semaphore.withPermit(
        gate,
        Effect.acquireUseRelease(
          Effect.sync(() => {
            const index = busy.indexOf(false)
            busy[index] = true
            return index
          }),
          body,
          (index) => Effect.sync(() => (busy[index] = false)),
        ),
      )

    const rows = Effect.gen(function* () {
      const store = yield* Store
      return yield* store.experiments.listExperiments(settings.stageId)
    })

    const runRow = (row: Experiment) =>
      withPlacement((worker) => runExperiment(runner, row, { worktree: setup.worktrees[worker]!, slot: slots[worker]! })).pipe(Effect.tap(reportRun))

    /** One progress line per proxy run, from the first one on (a seed's evaluation takes several). */
    const reportRun = (row: Experiment) =>
      Effect.gen(function* () {
        const progress = yield* Progress
        const scenario = row.scenario?.split("@")[0] ?? "?"
        const what = row.purpose === "baseline" ? `baseline of scenario ${scenario}` : `scenario ${scenario}: ${row.description ?? ""}`
        const value = row.metric === null ? (row.reason ?? row.status) : `${config.target.metric.name} ${Number(row.metric.toPrecision(5))}`
        yield* progress.emit({
          runId: settings.runId,
          stageId: settings.stageId,
          kind: "proxy-finished",
          message: `${settings.stageName} proxy #${row.seq} ${what} (seed ${row.seed}, ${row.timeBudget} s): ${row.status === "measured" ? value : `${row.status} (${value})`}`,
          data: { experimentId: row.id, status: row.status, metric: row.metric },
        })
        if (row.purpose !== "baseline") return
        const baselines = (yield* rows).filter((e) => e.purpose === "baseline" && e.status === "measured")
        if (baselines.length === settings.scenarios.length && seedsLookIgnored(baselines))
          yield* progress.emit({ runId: settings.runId, stageId: settings.stageId, kind: "seeds-ignored", message: seedsIgnoredWarning(settings.stageName, config.target.metric.name, baselines, "proxy baselines") })
      })

    /** The scenario's baseline metric at the proxy budget (measured once; the stage fails when it cannot run). */
    const baselineOf = (scenario: Scenario) =>
      Semaphore.withPermit(
        scenarioLocks.get(scenario.id)!,
        Effect.gen(function* () {
          const store = yield* Store
          let row = (yield* rows).find((e) => e.purpose === "baseline" && e.scenario === scenario.id)
          if (!row)
            row = yield* store.experiments.planExperiment({
              stageId: settings.stageId,
              worker: 0,
              purpose: "baseline",
              scenario: scenario.id,
              proposer: "baseline",
              offline: true,
              baseCommit: setup.baseCommit,
              description: `proxy baseline, scenario ${scenario.id} (seed ${scenario.seed})`,
              seed: scenario.seed,
              timeBudget: settings.proxyTimeBudgetSeconds,
            })
          if (row.status === "planned" || row.status === "running") row = yield* runRow(row)
          if (row.status !== "measured" || row.metric === null)
            return yield* new StageFailed({
              stage: settings.stageName,
              message: `${settings.stageName}: the target's baseline does not run at the proxy budget of ${settings.proxyTimeBudgetSeconds} s (${row.reason ?? row.status})${row.logPath ? `; log: ${row.logPath}` : ""}`,
            })
          return row.metric
        }),
      )

    const proposeEdit = (candidate: Components, scenario: Scenario) =>
      Effect.gen(function* () {
        const directions: Array<Direction> = parseDirections(componentText(candidate, "directions"), constantNames)
        if (offline) {
          const edit = offlineScenarioEdit(directions, scenario.index)
          return edit ? { edit, proposer: "offline" } : undefined
        }
        const agent = makeAgentProposer({
          model: settings.agentModel,
          instructions: componentText(candidate, "instructions"),
          instructionsHash: candidateHash(candidate),
          directions,
          metric: config.target.metric,
          readonlyFiles: config.target.readonly,
          timeBudgetSeconds: settings.proxyTimeBudgetSeconds,
          runId: settings.runId,
          stageId: settings.stageId,
          purpose: "gepa.agent-proposal",
          ...(runner.tunables ? { tunableContext: runner.tunables } : {}),
        })
        const baseline = yield* baselineOf(scenario)
        const result = yield* agent.propose({
          worker: 0,
          incumbent: { commit: setup.baseCommit, metric: baseline, runs: 1 },
          files: baseFiles,
          history: [],
          recent: [],
          pendingMoves: [],
          pendingDescriptions: [],
          noiseSigma: 0,
          gate: 0,
          rng: makeRng(scenario.seed),
          note: `This is proxy scenario ${scenario.index + 1} of ${settings.scenarios.length}: propose the idea you rank #${(scenario.index % 3) + 1} among your directions, so the scenarios together cover your top ideas.`,
        })
        if (result._tag !== "Edit") return { failure: result._tag === "Failed" ? result.reason : "no idea left", proposer: "llm" }
        return { edit: result.edit, proposer: "llm" }
      })

    const evaluateOne = (candidate: Components, scenario: Scenario): Effect.Effect<ExampleEvaluation, any, StageServices> =>
      Effect.gen(function* () {
        const store = yield* Store
        const key = `${scenario.id}@${candidateHash(candidate).slice(0, 16)}`
        if (!keyLocks.has(key)) keyLocks.set(key, yield* Semaphore.make(1))
        return yield* Semaphore.withPermit(
          keyLocks.get(key)!,
          Effect.gen(function* () {
            const baseline = yield* baselineOf(scenario)
            let row = (yield* rows).find((e) => e.purpose === "proxy" && e.scenario === key)
            if (!row) {
              const proposal = yield* proposeEdit(candidate, scenario)
              const plan = {
                stageId: settings.stageId,
                worker: 0,
                purpose: "proxy" as const,
                scenario: key,
                proposer: proposal?.proposer ?? "offline",
                offline,
                baseCommit: setup.baseCommit,
                seed: scenario.seed,
                timeBudget: settings.proxyTimeBudgetSeconds,
              }
              if (!proposal || !("edit" in proposal) || proposal.edit === undefined) {
                row = yield* store.experiments.planExperiment({ ...plan, description: "no proposal" })
                yield* store.experiments.finishExperiment(row.id, { status: "rejected", reason: proposal && "failure" in proposal ? `proposal failed: ${proposal.failure}` : "nothing left to propose", seconds: 0 })
                row = (yield* store.experiments.getExperiment(row.id))!
              } else {
                const edit = proposal.edit
                row = yield* store.experiments.planExperiment({ ...plan, direction: edit.direction, rationale: edit.rationale, description: edit.description, edit })
                // The same edit already ran on this scenario (same seed, same budget): its result is this one's,
                // recorded without running it again (the row is never started).
                const same = (yield* rows).find((e) => e.id !== row!.id && e.purpose === "proxy" && e.startedAt !== null && !isUnfinishedRow(e) && e.scenario?.split("@")[0] === scenario.id && e.edit !== null && sameEdit(e.edit, edit))
                if (same) {
                  yield* store.experiments.finishExperiment(row.id, {
                    status: same.status === "measured" || same.status === "crash" || same.status === "timeout" ? same.status : "rejected",
                    metric: same.metric,
                    seconds: 0,
                    exitCode: same.exitCode,
                    signal: same.signal,
                    logTail: same.logTail,
                    reason: `same edit as proxy run #${same.seq} on scenario ${scenario.id}; not run again${same.reason ? ` (${same.reason})` : ""}`,
                    diff: same.diff,
                  })
                  row = (yield* store.experiments.getExperiment(row.id))!
                }
              }
            }
            if (row.status === "planned" || row.status === "running") row = yield* runRow(row)
            return evaluationOf(row, baseline)
          }),
        )
      })

    const sameEdit = (a: Edit, b: Edit) => {
      const ca = changesOfEdit(baseFiles, a.changes)
      const cb = changesOfEdit(baseFiles, b.changes)
      return ca.length > 0 || cb.length > 0 ? moveKey(ca) === moveKey(cb) : JSON.stringify(a.changes) === JSON.stringify(b.changes)
    }
    const isUnfinishedRow = (row: Experiment) => row.status === "planned" || row.status === "running"

    const evaluationOf = (row: Experiment, baseline: number): ExampleEvaluation => {
      const delta = row.status === "measured" && row.metric !== null ? relativeImprovement(config.target.metric.direction, baseline, row.metric) : null
      const score = proxyScore(delta, settings.scoreRange)
      return {
        score,
        reused: row.purpose === "proxy" && row.startedAt === null && row.status !== "rejected",
        output: { experimentId: row.id, description: row.description, direction: row.direction, status: row.status, metric: row.metric, baseline, relativeDelta: delta },
        trajectory: {
          rationale: row.rationale,
          diff: row.diff ? truncate(row.diff, 40, 4000) : null,
          reason: row.reason,
          logTail: row.status === "crash" || row.status === "timeout" ? truncate(row.logTail ?? "", 20, 2000, "tail") : null,
        },
      }
    }

    /** Every proxy run that ran (a reused result counts once, where it was measured; a rejected edit is no evidence). */
    const observations = Effect.gen(function* () {
      const all = yield* rows
      const baselines = new Map(all.filter((e) => e.purpose === "baseline" && e.metric !== null).map((e) => [e.scenario, e.metric!]))
      const out: Array<ProxyObservation> = []
      for (const row of all.filter((e) => e.purpose === "proxy" && e.startedAt !== null && !isUnfinishedRow(e) && e.status !== "rejected")) {
        if (!row.edit) continue
        const scenario = row.scenario?.split("@")[0] ?? ""
        const baseline = baselines.get(scenario)
        const delta = row.status === "measured" && row.metric !== null && baseline !== undefined ? relativeImprovement(config.target.metric.direction, baseline, row.metric) : null
        out.push({ scenario, edit: row.edit, changes: changesOfEdit(baseFiles, row.edit.changes), relativeDelta: delta, proposer: row.proposer })
      }
      return out
    })

    /** Relative changes below this count as noise: the spread of the scenario baselines, at least 0.2 %. */
    const noiseFloor = Effect.map(rows, (all) => {
      const values = all.filter((e) => e.purpose === "baseline" && e.metric !== null).map((e) => e.metric!)
      if (values.length < 2) return 0.002
      const m = values.reduce((s, v) => s + v, 0) / values.length
      const sd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1))
      return Math.max(0.002, sd / Math.max(Math.abs(m), 1e-12))
    })

    const feedback = (evaluation: { score: number; output: unknown; trajectory: unknown }) => {
      const output = evaluation.output as { status: string; metric: number | null; baseline: number; relativeDelta: number | null; description: string | null }
      const trajectory = (evaluation.trajectory ?? {}) as { reason?: string | null; logTail?: string | null }
      const name = config.target.metric.name
      if (output.status === "rejected") return `The harness rejected the edit: ${trajectory.reason ?? "no reason"}. Score 0.`
      if (output.status === "crash" || output.status === "timeout")
        return `The run ${output.status === "crash" ? "crashed" : "timed out"} (${trajectory.reason ?? ""}). Score 0.${trajectory.logTail ? `\nLog tail:\n${trajectory.logTail}` : ""}`
      const pct = ((output.relativeDelta ?? 0) * 100).toFixed(2)
      return `${name} ${output.metric} vs the scenario baseline ${output.baseline}: ${Number(pct) >= 0 ? `${pct}% better` : `${pct.slice(1)}% worse`}. Score ${evaluation.score.toFixed(3)}.`
    }

    const adapter: GepaAdapter<Scenario, any, StageServices> = {
      splitsShareResults: true,
      evaluate: (batch, candidate) => Effect.forEach(batch, (scenario) => evaluateOne(candidate, scenario)),
      makeReflectiveDataset: (_candidate, evaluations, names) => {
        const records = evaluations.map((evaluation) => {
          const output = evaluation.output as { description: string | null; direction: string | null }
          const trajectory = (evaluation.trajectory ?? {}) as { rationale?: string | null; diff?: string | null }
          return {
            Inputs: { scenario: evaluation.example.id, seed: evaluation.example.seed, "proxy time budget": `${settings.proxyTimeBudgetSeconds} s`, metric: `${config.target.metric.name} (${config.target.metric.direction})` },
            "Generated Outputs": { edit: output.description ?? "(none)", direction: output.direction ?? "", rationale: trajectory.rationale ?? "", diff: trajectory.diff ?? "" },
            Feedback: feedback(evaluation),
          }
        })
        return Object.fromEntries(names.map((name) => [name, records]))
      },
      offlineReflector: (candidate, _dataset, names) =>
        Effect.gen(function* () {
          const seen = yield* observations
          const noise = yield* noiseFloor
          const out: Record<string, string> = {}
          for (const name of names) {
            if (name === "directions") out[name] = reflectDirectionsOffline(baseFiles, seen, noise, settings.scenarios.length, makeRng(config.seed * 31 + seen.length), context)
            else if (name === "instructions") out[name] = reflectInstructionsOffline(componentText(candidate, name), seen, noise)
          }
          return out
        }),
    }
    return { adapter, observations, noiseFloor, constantNames, baseFiles, tunableContext: context }
  })
