/**
 * The `research` adapter kind of the gepa stage: GEPA on a training target. Candidates have two
 * components: `instructions` (seed: prompts/agent.md or the `instructions` option) and `directions` (seed:
 * the `directions` option, else a ranked list written by the LLM from the editable files, else — offline —
 * every tunable constant in file order). Examples are `scenarios` seeds at the proxy time budget (default a
 * fifth of the target's). The best candidate hands its instructions and its directions, each with the
 * evidence measured on proxy runs, to the next stage.
 */
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../../../src/common/hash.ts"
import { NonEmptyString, PositiveInt, PositiveNumber } from "../../../src/config.ts"
import { StageFailed } from "../../../src/domain/errors.ts"
import type { StageContext } from "../../../src/pipeline/StageKind.ts"
import { Executor } from "../../../src/services/Executor.ts"
import { Progress } from "../../../src/services/Progress.ts"
import { Prompts, renderTemplate } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import { truncate } from "../../experiment-kit/agentPrompt.ts"
import { defaultRunLimits } from "../../experiment-kit/limits.ts"
import { killOrphans } from "../../experiment-kit/runner.ts"
import { findTunables } from "../../experiment-kit/tunables/index.ts"
import { prepareTargetWorkspace } from "../../experiment-kit/targetWorkspace.ts"
import { tunableFindings } from "../../experiment-kit/tunables/target.ts"
import type { GepaAdapterKind } from "../adapterKinds.ts"
import { componentText } from "../candidate.ts"
import { asClause, askInFormat, correctionTemplateName } from "../replyFormat.ts"
import { makeResearchAdapter, type Scenario } from "./adapter.ts"
import { handedEdits, parseDirections, seedDirectionsText, withEvidence } from "./directions.ts"

export const ResearchAdapterOptions = Schema.Struct({
  kind: Schema.Literal("research"),
  /** Seeds the candidates are scored on (default 3). */
  scenarios: Schema.optional(PositiveInt),
  /** Time budget of a proxy run (default: the target's timeBudgetSeconds / 5). */
  proxyTimeBudgetSeconds: Schema.optional(PositiveNumber),
  /** Relative improvement that scores 1 (default 0.1: 10 % better than the scenario's baseline). */
  scoreRange: Schema.optional(PositiveNumber),
  /** Seed instructions: text, a .md path (relative to the config) or a bundled prompt name (default "agent"). */
  instructions: Schema.optional(NonEmptyString),
  /** Seed directions: a ranked list as text or a .md path. */
  directions: Schema.optional(NonEmptyString),
})

const looksLikeFile = (text: string) => !/\s/.test(text.trim()) || text.trim().endsWith(".md")

const seedDirectionsFormat = `Reply with the ranked list only: 5 to 8 lines, each starting with its rank ("1. ", "2. ", ...) and naming the settings or code it is about.`

/**
 * The seed directions written by the model from the editable files (the `gepa-seed-directions` template),
 * with one corrective retry when a reply has no list item; when neither reply has one, `fallback` (the
 * offline seed directions) with a warning.
 */
const askSeedDirections = (context: StageContext<unknown>, files: ReadonlyMap<string, string>, constantNames: ReadonlyArray<string>, fallback: string) =>
  Effect.gen(function* () {
    const { config } = context
    const prompts = yield* Prompts
    const fail = (message: string) => new StageFailed({ stage: context.stage.name, message: `${context.stage.name}: ${message}` })
    const template = yield* prompts.load("gepa-seed-directions").pipe(Effect.mapError((error) => fail(error.message)))
    const correction = yield* prompts.load(correctionTemplateName).pipe(Effect.mapError((error) => fail(error.message)))
    const prompt = renderTemplate(template.text, {
      metric: config.target.metric.name,
      direction: config.target.metric.direction,
      time_budget_seconds: String(config.target.timeBudgetSeconds),
      tunables: constantNames.length > 0 ? constantNames.join(", ") : "none recognised",
      files: [...files].map(([file, content]) => `## ${file}\n\n\`\`\`\n${truncate(content, 600, 40_000)}\n\`\`\``).join("\n\n"),
    })
    const asked = yield* askInFormat({
      request: { purpose: "gepa.seed-directions", model: config.model, prompt, templateHash: template.hash, runId: context.runId, stageId: context.stage.id },
      judge: (text) =>
        parseDirections(text, constantNames).length > 0
          ? { ok: true, value: text }
          : { ok: false, problem: `It has no list item: every direction must be a line of its own that starts with its rank, as "1. ...".` },
      correction,
      format: seedDirectionsFormat,
    })
    if (asked.value !== undefined) return asked.value
    const progress = yield* Effect.serviceOption(Progress)
    if (Option.isSome(progress))
      yield* progress.value.emit({
        runId: context.runId,
        stageId: context.stage.id,
        kind: "llm-reply-fallback",
        message: `${context.stage.name}: the model's seed directions were unusable twice (${asked.problems.map(asClause).join("; then ")}); using the offline seed directions (every tunable constant, typical levers first)`,
        data: { purpose: "gepa.seed-directions", problems: asked.problems },
      })
    return fallback
  })

export const researchAdapterKind: GepaAdapterKind<typeof ResearchAdapterOptions.fields> = {
  kind: "research",
  options: ResearchAdapterOptions,
  sizes: (options) => ({ train: options.scenarios ?? 3, val: options.scenarios ?? 3 }),
  // Offline, the agent is the move engine: it needs tunables (given directions do not change that).
  preflight: (_options, context) => tunableFindings(context.config.target, context.config.model === "offline"),
  prepare: (options, context) =>
    Effect.gen(function* () {
      const store = yield* Store
      const executor = yield* Executor
      const prompts = yield* Prompts
      const { config } = context
      const fail = (message: string) => new StageFailed({ stage: context.stage.name, message: `${context.stage.name}: ${message}` })
      const concurrency = (context.options as { concurrency?: number }).concurrency ?? 1
      const slots = yield* executor.slots
      const proxyTimeBudgetSeconds = options.proxyTimeBudgetSeconds ?? Math.max(1, Math.round((config.target.timeBudgetSeconds / 5) * 10) / 10)
      const workspace = yield* prepareTargetWorkspace({
        config,
        runId: context.runId,
        slug: context.slug,
        stageName: context.stage.name,
        runDir: context.runDir,
        logDir: context.stageDir,
        workers: Math.max(1, Math.min(concurrency, slots.length)),
        input: context.input,
        limits: defaultRunLimits,
      })
      yield* killOrphans({ runId: context.runId, stageId: context.stage.id, stageName: context.stage.name }, yield* store.experiments.listExperiments(context.stage.id))
      const count = options.scenarios ?? 3
      const scenarios: Array<Scenario> = Array.from({ length: count }, (_, index) => ({ id: `s${index}`, index, seed: config.seed + 1000 + index }))
      const research = yield* makeResearchAdapter({
        runId: context.runId,
        stageId: context.stage.id,
        stageName: context.stage.name,
        config,
        workspace,
        proxyTimeBudgetSeconds,
        scoreRange: options.scoreRange ?? 0.1,
        agentModel: config.model,
        scenarios,
      })

      // The seed: reuse the stored one on resume (never ask the model twice), else build it.
      const stored = yield* store.outer.listCandidates(context.stage.id)
      let seedCandidate: ReadonlyArray<readonly [string, string]>
      if (stored.length > 0) seedCandidate = stored[0]!.components
      else {
        const readText = (value: string | undefined, fallbackPrompt: string | undefined) =>
          Effect.gen(function* () {
            if (value !== undefined && !looksLikeFile(value)) return value
            const name = value ?? fallbackPrompt
            if (name === undefined) return undefined
            const template = yield* prompts.load(name, config.configDir).pipe(Effect.mapError((error) => fail(error.message)))
            return template.text
          })
        const instructions = context.input.instructions ?? (yield* readText(options.instructions, "agent"))!
        let directions = yield* readText(options.directions, undefined)
        if (directions === undefined) {
          const constants = findTunables(research.baseFiles, research.tunableContext)
          if (config.model === "offline") directions = seedDirectionsText(constants)
          else directions = yield* askSeedDirections(context, research.baseFiles, research.constantNames, seedDirectionsText(constants))
        }
        if (parseDirections(directions, research.constantNames).length === 0) return yield* fail(`the seed directions contain no list item ("1. ..." or "- ...")`)
        seedCandidate = [
          ["instructions", instructions],
          ["directions", directions],
        ]
      }
      yield* Effect.sync(() => fs.mkdirSync(path.join(context.stageDir), { recursive: true }))
      return {
        adapter: research.adapter,
        trainset: scenarios,
        valset: scenarios,
        seedCandidate,
        instructions: (best) => componentText(best, "instructions") ?? "",
        handoff: (best) =>
          Effect.gen(function* () {
            const observations = yield* research.observations
            const directions = withEvidence(parseDirections(componentText(best, "directions") ?? "", research.constantNames), observations, research.baseFiles, proxyTimeBudgetSeconds, research.tunableContext)
            const edits = handedEdits(observations, yield* research.noiseFloor, proxyTimeBudgetSeconds)
            return { directions, edits, instructionsHash: sha256(componentText(best, "instructions") ?? "") }
          }),
      }
    }),
}
