/**
 * The `prompt` adapter kind of the gepa stage: optimizes a system prompt for `taskModel` (default: the
 * config's `model`) over `<dataset>/train.jsonl` and `<dataset>/val.jsonl` (relative to the config file).
 * The seed prompt is `seedPrompt`, else the previous stage's handoff instructions, else a plain default.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
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

/** Non-blank lines of a JSONL file (its examples), or undefined when it cannot be read. */
const countExamples = (file: string): number | undefined => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((line) => line.trim().length > 0).length
  } catch {
    return undefined
  }
}

export const promptAdapterKind: GepaAdapterKind<typeof PromptAdapterOptions.fields> = {
  kind: "prompt",
  options: PromptAdapterOptions,
  sizes: (options, context) => {
    const directory = path.resolve(context.config.configDir, options.dataset)
    const train = countExamples(path.join(directory, "train.jsonl"))
    const val = countExamples(path.join(directory, "val.jsonl"))
    return train && val ? { train, val } : undefined
  },
  preflight: (options, context) => {
    const directory = path.resolve(context.config.configDir, options.dataset)
    return ["train.jsonl", "val.jsonl"]
      .filter((name) => !fs.existsSync(path.join(directory, name)))
      .map((name) => ({ level: "error" as const, message: `${context.at}.adapter.dataset: ${path.join(directory, name)} does not exist` }))
  },
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
