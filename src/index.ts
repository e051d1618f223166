/**
 * twoloop's public library API: load a config, run or resume a pipeline, and the building blocks stage
 * kinds are made of. Stage kinds live in `twoloop/stages` (importing it registers the built-in ones).
 */
export { decodeConfig, defineConfig, type ConfigInput, type ResolvedConfig } from "./config.ts"
export * from "./domain/errors.ts"
export type { Edit, FileChange } from "./domain/Edit.ts"
export type { Direction, Handoff } from "./domain/Handoff.ts"
export { findConfigFile, loadConfig } from "./pipeline/loadConfig.ts"
export { libraryPath, servicesFor } from "./pipeline/layers.ts"
export { resumeRun, startRun, type RunOptions, type RunSummary } from "./pipeline/runPipeline.ts"
export { getStageKind, registerStageKind, stageKindNames, type StageContext, type StageKind, type StageOutcome } from "./pipeline/StageKind.ts"
export { Executor } from "./services/Executor.ts"
export { Llm } from "./services/Llm.ts"
export { Progress } from "./services/Progress.ts"
export { Prompts } from "./services/Prompts.ts"
export { Library, Store } from "./services/Store.ts"
export { Workspace } from "./services/Workspace.ts"
