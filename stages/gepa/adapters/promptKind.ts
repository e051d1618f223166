/**
 * The `prompt` adapter kind of the gepa stage: optimizes a system prompt for `taskModel` (default: the
 * config's `model`) over `<dataset>/train.jsonl` and `<dataset>/val.jsonl` (relative to the config file).
 * The seed prompt is `seedPrompt`, else the previous stage's handoff instructions, else a plain default.
 */
import { Effect, Schema } from "effect"
import * as path from "node:path"
import { ModelString, NonEmptyString } from "../../../src/config.ts"
import { StageFailed } from "../../../src/domain/errors.ts"
import type { GepaAdapterKind } from "../adapterKinds.ts"
import { componentText } from "../candidate.ts"
import { defaultPromptComponent, loadPromptExamples, makePromptAdapter } from "./prompt.ts"

export const defaultSeedPrompt = "You are a helpful assistant. Answer the question."

export const PromptAdapterOptions = Schema.Struct({
  kind: Schema.Literal("prompt"),
  /** Directory holding train.jsonl and val.jsonl. */
  dataset: NonEmptyString,
  taskModel: Schema.optional(ModelString),
  seedPrompt: Schema.optional(NonEmptyString),
  component: Schema.optional(NonEmptyString),
  metric: Schema.optional(Schema.Literals(["number", "exact", "contains"])),
})

export const promptAdapterKind: GepaAdapterKind<typeof PromptAdapterOptions.fields> = {
  kind: "prompt",
  options: PromptAdapterOptions,
  prepare: (options, context) =>
    Effect.gen(function* () {
      const fail = (message: string) => new StageFailed({ message, stage: context.stage.name })
      const taskModel = options.taskModel ?? context.config.model
      if (taskModel === "offline")
        return yield* fail(`the prompt adapter needs a callable task model: set adapter.taskModel or the config's model (it is "offline")`)
      const directory = path.resolve(context.config.configDir, options.dataset)
      const [trainset, valset] = yield* Effect.all([
        loadPromptExamples(path.join(directory, "train.jsonl")),
        loadPromptExamples(path.join(directory, "val.jsonl")),
      ]).pipe(Effect.mapError((error) => fail(error.message)))
      const component = options.component ?? defaultPromptComponent
      const adapter = makePromptAdapter({ taskModel, component, metric: options.metric ?? "exact", runId: context.runId, stageId: context.stage.id })
      return {
        adapter,
        trainset,
        valset,
        seedCandidate: [[component, options.seedPrompt ?? context.input.instructions ?? defaultSeedPrompt]] as const,
        instructions: (best) => componentText(best, component) ?? "",
      }
    }),
}
