/**
 * The production services for a config: its store, the prompt library, the LLM service with its settings,
 * prompts, progress output, the configured executor and workspaces.
 */
import { Layer } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import type { ResolvedConfig } from "../config.ts"
import { Executor } from "../services/Executor.ts"
import { makeSlurmExecutor } from "../services/executor/slurm.ts"
import { Llm, type LlmSettings } from "../services/Llm.ts"
import { Progress } from "../services/Progress.ts"
import { Prompts } from "../services/Prompts.ts"
import { Library, Store } from "../services/Store.ts"
import { Workspace } from "../services/Workspace.ts"

export const twoloopHome = (env: Readonly<Record<string, string | undefined>> = process.env) => env.TWOLOOP_HOME ?? path.join(os.homedir(), ".twoloop")

export const libraryPath = (env: Readonly<Record<string, string | undefined>> = process.env) => path.join(twoloopHome(env), "library.db")

export const llmSettingsOf = (config: ResolvedConfig): LlmSettings => ({
  timeoutSeconds: config.llm.timeoutSeconds,
  retries: config.llm.retries,
  cache: config.llm.cache,
  temperature: config.llm.temperature,
  structuredOutputs: config.llm.structuredOutputs,
  maxReplyBytes: config.llm.maxReplyBytes,
  prices: config.prices,
})

export const executorLayer = (config: ResolvedConfig) =>
  config.executor.kind === "slurm" ? Layer.succeed(Executor, makeSlurmExecutor(config.executor)) : Executor.layerLocal(config.executor)

export interface LayerOptions {
  /** Where progress lines go (default: stdout). */
  readonly write?: (line: string) => void
  readonly executor?: Layer.Layer<Executor>
}

/** Every service a pipeline needs, for `config`. */
export const servicesFor = (config: ResolvedConfig, options: LayerOptions = {}) =>
  Layer.mergeAll(
    Llm.layer(llmSettingsOf(config)),
    options.write ? Progress.layerWith(options.write) : Progress.layer,
    Prompts.layer,
    options.executor ?? executorLayer(config),
    Workspace.layer,
    Library.layer(libraryPath()),
  ).pipe(Layer.provideMerge(Store.layer(config.store)))
