/** The built-in stage kinds; importing this module registers them. */
export { codeSearchStage } from "./code-search/stage.ts"
export { gepaStageKind } from "./gepa/stage.ts"
