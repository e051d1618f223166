/**
 * twoloop's GEPA engine as a library: `optimize` over any adapter, the pure rules it is built from, the
 * state ports, the plain prompt-optimization adapter, and the `gepa` stage kind (registered on import).
 */
export { optimize, type OptimizedCandidate, type OptimizeOptions, type OptimizeResult } from "./optimize.ts"
export { extractInstruction } from "./extractInstruction.ts"
export { renderReflectiveDataset } from "./renderReflectiveDataset.ts"
export {
  buildFronts,
  type Fronts,
  frontSurvivors,
  meanScore,
  pruneDominated,
  selectCurrentBest,
  selectEpsilonGreedy,
  selectParetoParent,
} from "./pareto.ts"
export { isStrictImprovement, sumScores } from "./acceptance.ts"
export { defaultMinibatchSize, initialSamplerState, nextMinibatch, type SamplerState } from "./sampler.ts"
export { type ComponentChoice, type ComponentSelector, inheritPointer, selectComponents } from "./componentSelector.ts"
export { constructMerge, eligibleAncestors, findMerge, findMergeTriplet, hasDesirableComponent, mergeGateIds, mergeSources, type MergePlan, type MergeTriplet } from "./merge.ts"
export { type Budget, budgetStopReason, canAfford, reflectiveIterationCost, type StopReason } from "./budget.ts"
export { candidateHash, type Components, type ComponentsInput, componentText, toComponents, withTexts } from "./candidate.ts"
export type {
  EvaluatedExample,
  ExampleEvaluation,
  GepaAdapter,
  GepaExample,
  MaybeEffect,
  NewTexts,
  ProposerContext,
  ReflectiveDataset,
  ReflectiveRecord,
} from "./adapter.ts"
export { type GepaStatePort, type IterationCommit, makeMemoryStatePort, type MemoryStatePort, type StoredReflection, type StoredState } from "./statePort.ts"
export { makeSqliteStatePort } from "./sqliteStatePort.ts"
export { Checkpoint } from "./checkpoint.ts"
export { buildReflectionPrompt, templateProblem } from "./reflectionPrompt.ts"
export type { CandidateSelector } from "./engine.ts"
export {
  defaultPromptComponent,
  lastNumber,
  loadPromptExamples,
  makePromptAdapter,
  type MetricResult,
  type PromptAdapterSettings,
  type PromptExample,
  type PromptMetric,
  type PromptMetricName,
  promptMetrics,
  promptOfflineReflector,
} from "./adapters/prompt.ts"
export { PromptAdapterOptions, promptAdapterKind } from "./adapters/promptKind.ts"
export type { GepaAdapterKind, PreparedAdapter } from "./adapterKinds.ts"
export { GepaBudgetOptions, gepaStageKind, makeGepaStageKind, registerGepaAdapterKind } from "./stage.ts"
