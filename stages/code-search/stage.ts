/**
 * The `code-search` stage kind: wires settings, workspace, executor slots, proposer and instructions into
 * the search loop, and turns the store's rows into the stage's summary and handoff.
 */
import { Effect, Ref } from "effect"
import * as path from "node:path"
import { sha256 } from "../../src/common/hash.ts"
import type { Direction, Handoff } from "../../src/domain/Handoff.ts"
import { StageFailed } from "../../src/domain/errors.ts"
import { registerStageKind, type StageContext, type StageKind } from "../../src/pipeline/StageKind.ts"
import { Progress } from "../../src/services/Progress.ts"
import { Prompts } from "../../src/services/Prompts.ts"
import { Store } from "../../src/services/Store.ts"
import { Workspace } from "../../src/services/Workspace.ts"
import type { Experiment } from "../../src/domain/Experiment.ts"
import type { HandedEdit } from "../../src/domain/Handoff.ts"
import type { Drift, Transfer } from "../../src/domain/StageSummary.ts"
import { incumbentDrift, keptEdits, noiseGroups, summarize } from "./bookkeeping.ts"
import { pooledNoise } from "./keepRule.ts"
import { CodeSearchOptions, resolveSettings } from "./options.ts"
import { codeSearchPreflight } from "./preflight.ts"
import { runPromotions } from "./promote.ts"
import { handoffScenario, runRevalidations, transferOf } from "./revalidate.ts"
import { makeAgentProposer, makeOfflineProposer, type Proposer } from "../experiment-kit/proposers.ts"
import { makeRuntime } from "./runtime.ts"
import { prepareTargetWorkspace } from "../experiment-kit/targetWorkspace.ts"
import { runSearch, stopFileExists } from "./search.ts"
import { CodeSearchSummary } from "./summary.ts"

const fail = (stage: string, message: string) => new StageFailed({ stage, message: `${stage}: ${message}` })

/** The instructions the inner stage works with: evolved ones handed over, else the option, else prompts/agent.md. */
export const resolveInstructions = (context: StageContext<typeof CodeSearchOptions.Type>) =>
  Effect.gen(function* () {
    if (context.input.instructions) return { text: context.input.instructions, hash: sha256(context.input.instructions), source: "handoff" }
    const prompts = yield* Prompts
    const option = context.options.instructions
    if (option && /\s/.test(option.trim()) && !option.trim().endsWith(".md")) return { text: option, hash: sha256(option), source: "option" }
    const template = yield* prompts.load(option ?? "agent", context.config.configDir).pipe(Effect.mapError((error) => fail(context.stage.name, error.message)))
    return { text: template.text, hash: template.hash, source: template.file }
  })

export const runCodeSearch = (context: StageContext<typeof CodeSearchOptions.Type>) =>
  Effect.gen(function* () {
    const store = yield* Store
    const workspace = yield* Workspace
    const progress = yield* Progress
    const { config, stage } = context
    const settings = resolveSettings(context.options, { timeBudgetSeconds: config.target.timeBudgetSeconds, seed: config.seed })
    const { setup, slots, runner } = yield* prepareTargetWorkspace({
      config,
      runId: context.runId,
      slug: context.slug,
      stageName: stage.name,
      runDir: context.runDir,
      logDir: context.stageDir,
      workers: settings.workers,
      input: context.input,
      limits: settings,
    })

    const directions: ReadonlyArray<Direction> = context.input.directions ?? []
    const useLlm = settings.proposer === "llm" || (settings.proposer === "auto" && config.model !== "offline")
    if (useLlm && config.model === "offline") return yield* fail(stage.name, `proposer "llm" needs a model; the config's model is "offline"`)
    const instructions = yield* resolveInstructions(context)
    const proposer: Proposer = useLlm
      ? makeAgentProposer({
          model: config.model,
          instructions: instructions.text,
          instructionsHash: instructions.hash,
          directions,
          metric: config.target.metric,
          readonlyFiles: config.target.readonly,
          timeBudgetSeconds: settings.timeBudgetSeconds,
          runId: context.runId,
          stageId: stage.id,
          ...(runner.tunables ? { tunableContext: runner.tunables } : {}),
        })
      : makeOfflineProposer(directions, runner.tunables)

    const runtime = yield* makeRuntime({
      runId: context.runId,
      stageId: stage.id,
      stageName: context.slug,
      settings,
      target: config.target,
      setup,
      slots,
      runner,
      proposerLabel: proposer.offline ? "offline" : "llm",
      stageDir: context.stageDir,
    })

    const sessionStart = Date.now()
    const previousSeconds = typeof (context.stage.state as { activeSeconds?: unknown } | null)?.activeSeconds === "number" ? (context.stage.state as { activeSeconds: number }).activeSeconds : 0
    const activeSeconds = () => previousSeconds + (Date.now() - sessionStart) / 1000
    const stopFile = settings.stopFile ? path.resolve(config.configDir, settings.stopFile) : path.join(context.runDir, "STOP")
    const stopping = Effect.gen(function* () {
      yield* store.runs.saveStageState(stage.id, { activeSeconds: activeSeconds() })
      if (yield* context.shouldStop) return true
      if (yield* stopFileExists(stopFile)) return true
      return settings.budget.seconds !== undefined && activeSeconds() >= settings.budget.seconds
    })

    yield* progress.emit({
      runId: context.runId,
      stageId: stage.id,
      kind: "stage-started",
      message: `${stage.name}: code search on ${config.target.dir} (${setup.mode} workspace, base ${setup.baseCommit.slice(0, 7)}), ${settings.workers} worker${settings.workers === 1 ? "" : "s"}, proposer ${proposer.offline ? "offline (no LLM)" : config.model}, budget ${settings.budget.experiments ?? "∞"} experiments${settings.budget.seconds ? ` / ${settings.budget.seconds} s` : ""}, ${settings.timeBudgetSeconds} s per run${directions.length > 0 ? `, ${directions.length} directions handed over` : ""}${context.resuming ? " (resuming)" : ""}`,
    })

    const first = { worktree: setup.worktrees[0]!, slot: runtime.slots[0]! }
    const promotions = context.input.keptEdits && settings.promoteTop > 0 ? runPromotions(runtime, context.input.keptEdits, first) : Effect.void
    const revalidations = context.input.edits && settings.revalidate > 0 ? runRevalidations(runtime, context.input.edits, first) : Effect.void
    const edits = context.input.edits ?? []
    const note = edits.length === 0 ? undefined : (experiments: ReadonlyArray<Experiment>) => handoffNote(edits, experiments, settings.timeBudgetSeconds)
    yield* runSearch(runtime, { stopping, proposer, ...(note ? { note } : {}) }, Effect.andThen(promotions, revalidations))

    const experiments = yield* runtime.experiments
    const noise = pooledNoise(noiseGroups(experiments))
    const figures = summarize(experiments, { metric: config.target.metric.name, direction: config.target.metric.direction, baseCommit: setup.baseCommit, noiseSigma: noise.sigma, offline: proposer.offline, proposer: proposer.offline ? "offline" : config.model })
    for (const worktree of setup.worktrees) yield* workspace.resetTo(worktree, figures.bestCommit)
    const stopped = yield* context.shouldStop
    const times = experiments.flatMap((e) => [Date.parse(e.createdAt), ...(e.endedAt ? [Date.parse(e.endedAt)] : [])])
    const wallSeconds = times.length > 0 ? (Math.max(...times) - Math.min(...times)) / 1000 : 0
    const handoff: Handoff = {
      ...(context.input.instructions ? { instructions: context.input.instructions } : {}),
      ...(context.input.directions ? { directions: context.input.directions } : {}),
      commit: figures.bestCommit,
      repo: setup.repo,
      keptEdits: keptEdits(experiments),
      metric: { baseline: figures.baseline, best: figures.best },
      offline: proposer.offline,
    }
    const show = (x: number | null) => (x === null ? "-" : Number(x.toPrecision(5)))
    yield* progress.emit({
      runId: context.runId,
      stageId: stage.id,
      kind: "stage-finished",
      message: `${stage.name}: ${config.target.metric.name} ${show(figures.baseline)} → ${show(figures.best)} (gain ${show(figures.gain)}, noise σ ${show(figures.noiseSigma)}) in ${figures.experiments} experiments: ${figures.kept} kept, ${figures.discarded} discarded, ${figures.crashed} crashed, ${figures.timedOut} timed out, ${figures.rejected} rejected [${proposer.offline ? "offline proposer" : config.model}]; results: ${runtime.resultsFile}`,
    })
    const summary: CodeSearchSummary = {
      ...figures,
      branches: setup.worktrees.map((w) => w.branch),
      timeBudgetSeconds: settings.timeBudgetSeconds,
      workers: settings.workers,
      wallSeconds,
      dutyCycle: wallSeconds > 0 ? figures.experimentSeconds / (wallSeconds * settings.workers) : null,
      proposalsRebased: yield* Ref.get(runtime.rebasedRuns),
      instructionsSource: instructions.source,
      directions: directions.length,
      resultsFile: runtime.resultsFile,
      repo: setup.repo,
      transfers: transfersOf(context.input.edits ?? [], experiments),
      drift: driftOf(experiments, setup.baseCommit),
    }
    return { handoff, stopped, summary }
  })

/** What the agent is told about the outer stage's measured edits: the strongest, and how they fared here. */
const handoffNote = (edits: ReadonlyArray<HandedEdit>, experiments: ReadonlyArray<Experiment>, budget: number): string => {
  const transfers = transfersOf(edits, experiments)
  const lines = transfers.slice(0, 8).map((t) => `- ${t.description}: ${t.proxyDelta === null ? "crashed" : `${t.proxyDelta >= 0 ? "+" : ""}${(t.proxyDelta * 100).toFixed(2)} %`} at ${t.proxyBudgetSeconds} s${t.outcome === "not run" ? "" : `; at ${budget} s it ${t.outcome}`}`)
  return `The outer stage measured these edits on short proxy runs (relative improvement over the baseline). Short runs favour other values than full ones, so treat them as hints, not results:\n${lines.join("\n")}`
}

/** Each handed-over edit with what became of it at this stage's budget. */
const transfersOf = (edits: ReadonlyArray<HandedEdit>, experiments: ReadonlyArray<Experiment>): Array<Transfer> =>
  edits.map((edit, index) => {
    const row = experiments.find((e) => e.scenario === handoffScenario(index))
    const outcome = row === undefined ? "not run" : transferOf(row) === "held" ? "held" : "did not hold"
    return { description: edit.description, proxyDelta: edit.proxyDelta, proxyBudgetSeconds: edit.budgetSeconds, outcome, improvement: row?.judgement?.improvement ?? null }
  })

const driftOf = (experiments: ReadonlyArray<Experiment>, baseCommit: string): Drift => {
  const drifts = incumbentDrift(experiments, baseCommit)
  return {
    remeasures: drifts.reduce((sum, d) => sum + d.remeasures, 0),
    largest: drifts.length === 0 ? null : drifts.reduce((top, d) => (Math.abs(d.drift) > Math.abs(top) ? d.drift : top), 0),
  }
}

export const codeSearchStage: StageKind<typeof CodeSearchOptions.fields, CodeSearchSummary> = registerStageKind({
  kind: "code-search",
  description: "edits the training code and keeps noise-gated improvements on a git branch",
  role: "inner",
  options: CodeSearchOptions,
  summary: CodeSearchSummary,
  run: runCodeSearch,
  preflight: codeSearchPreflight,
})
