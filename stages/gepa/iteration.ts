/**
 * One reflective iteration: select a parent, draw the minibatch, check the iteration can afford its worst
 * case, evaluate the parent (with traces), skip when it left no trajectories or is perfect, pick components,
 * reflect, evaluate the child on the same minibatch, accept on a strictly larger sum, and fully validate an
 * accepted child.
 * Mutates the engine state; the caller commits it at the boundary.
 */
import { Effect } from "effect"
import type { ProposalRecord } from "../../src/domain/Candidate.ts"
import type { LlmError } from "../../src/domain/errors.ts"
import type { Llm } from "../../src/services/Llm.ts"
import { isStrictImprovement, sumScores } from "./acceptance.ts"
import type { GepaExample } from "./adapter.ts"
import { canAfford, reflectiveIterationCost, type StopReason } from "./budget.ts"
import { candidateHash, withTexts } from "./candidate.ts"
import { inheritPointer, selectComponents } from "./componentSelector.ts"
import type { Engine, EngineState } from "./engine.ts"
import { budgetedCalls, liftEffect } from "./evaluator.ts"
import { selectCurrentBest, selectEpsilonGreedy, selectParetoParent } from "./pareto.ts"
import type { PoolCandidate } from "./pool.ts"
import { nextMinibatch } from "./sampler.ts"

/** A proposal row without the cumulative metric-call count (the loop fills it in). */
export type ProposalDraft = Omit<ProposalRecord, "metricCalls">

export type IterationOutcome =
  | { readonly kind: "stop"; readonly reason: StopReason }
  | { readonly kind: "done"; readonly proposal: ProposalDraft; readonly candidate: PoolCandidate | undefined; readonly summary: string }

export const formatScore = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(3))

export const selectParent = <Example extends GepaExample, E, R>(engine: Engine<Example, E, R>, state: EngineState): number => {
  const means = state.pool.means
  switch (engine.candidateSelector) {
    case "pareto":
      return selectParetoParent(state.pool.currentFronts(), means, state.rng.next)
    case "current-best":
      return selectCurrentBest(means)
    case "epsilon-greedy":
      return selectEpsilonGreedy(means, engine.epsilon, state.rng.next)
  }
}

export const reflectiveIteration = <Example extends GepaExample, E, R>(
  engine: Engine<Example, E, R>,
  state: EngineState,
): Effect.Effect<IterationOutcome, E | LlmError, R | Llm> =>
  Effect.gen(function* () {
    const iteration = state.iteration
    const parentIndex = selectParent(engine, state)
    const parent = state.pool.get(parentIndex)
    const drawn = nextMinibatch(state.sampler, engine.trainIds, iteration - 1, engine.minibatchSize, state.rng)
    state.sampler = drawn.state
    const minibatch = drawn.ids
    const parentCharge = yield* engine.evaluator.chargeable(parent.hash, "train", minibatch)
    // The child is not known yet: every id of its minibatch may cost a call.
    const childCharge = state.ledger.accounting === "runs" ? new Set(minibatch).size : minibatch.length
    const worstCase = reflectiveIterationCost(parentCharge, childCharge, engine.valIds.length)
    if (!canAfford(engine.budget, budgetedCalls(state.ledger), worstCase)) return { kind: "stop", reason: "metric-calls" } as const

    const examples = minibatch.map((id) => engine.trainById.get(id)!)
    const parentResults = yield* engine.evaluator.evaluate(parent, "train", examples)
    const parentScores = parentResults.map((result) => result.score)
    const sumBefore = sumScores(parentScores)
    const base = { iteration, parents: [parentIndex], minibatch, sumBefore, childIdx: null }

    const skip = (reason: string) => {
      const proposal: ProposalDraft = {
        ...base,
        kind: "skip",
        components: [],
        sumAfter: null,
        accepted: false,
        reason,
        reflectionPrompt: null,
        reflectionOutput: null,
        offline: engine.reflector.mode === "offline",
      }
      return { kind: "done", proposal, candidate: undefined, summary: `skipped: ${reason}` } as const
    }
    // As in the reference: nothing to reflect on without trajectories, and nothing to improve on a perfect minibatch.
    if (parentResults.every((result) => result.trajectory === null || result.trajectory === undefined))
      return skip(`the adapter returned no trajectories for parent ${parentIndex}'s minibatch`)
    if (engine.skipPerfect && parentScores.every((score) => score >= engine.perfectScore))
      return skip(`parent ${parentIndex} is already perfect on the minibatch`)

    const choice = selectComponents(engine.componentSelector, engine.names, state.pointers[parentIndex]!)
    state.pointers[parentIndex] = choice.pointer
    const dataset = yield* Effect.suspend(() => liftEffect(engine.adapter.makeReflectiveDataset(parent.components, parentResults, choice.components)))
    const proposed = yield* engine.reflector.propose(parent.components, dataset, choice.components, iteration)
    state.reflectionCostUsd += proposed.costUsd
    const reflection = {
      ...base,
      kind: "reflection" as const,
      components: choice.components,
      reflectionPrompt: proposed.prompt,
      reflectionOutput: proposed.output,
      offline: proposed.offline,
    }
    const rejectedParts = proposed.rejections.map((rejection) => `${rejection.component}: ${rejection.reason}`)
    if (Object.keys(proposed.texts).length === 0) {
      const reason = `no usable proposal (${rejectedParts.join("; ")})`
      return { kind: "done", proposal: { ...reflection, sumAfter: null, accepted: false, reason }, candidate: undefined, summary: `rejected: ${reason}` } as const
    }

    const components = withTexts(parent.components, proposed.texts)
    const child = { components, hash: candidateHash(components) }
    const childResults = yield* engine.evaluator.evaluate(child, "train", examples)
    const childScores = childResults.map((result) => result.score)
    const sumAfter = sumScores(childScores)
    const comparison = `minibatch sum ${formatScore(sumBefore)} → ${formatScore(sumAfter)}`
    const partial = rejectedParts.length > 0 ? ` (kept the parent's text for ${rejectedParts.join("; ")})` : ""
    if (!isStrictImprovement(parentScores, childScores)) {
      const reason = `${comparison}, not strictly better${partial}`
      return { kind: "done", proposal: { ...reflection, sumAfter, accepted: false, reason }, candidate: undefined, summary: `rejected: ${reason}` } as const
    }

    const metricCalls = budgetedCalls(state.ledger)
    const validation = yield* engine.evaluator.evaluate(child, "val", engine.valset)
    const candidate = state.pool.add({
      ...child,
      parents: [parentIndex],
      origin: "reflection",
      iteration,
      metricCalls,
      offline: proposed.offline,
      valScores: new Map(validation.map((result) => [result.example.id, result.score])),
    })
    state.pointers.push(inheritPointer([state.pointers[parentIndex]!]))
    const reason = `${comparison}${partial}`
    return {
      kind: "done",
      proposal: { ...reflection, sumAfter, accepted: true, reason, childIdx: candidate.idx },
      candidate,
      summary: `accepted candidate ${candidate.idx} from parent ${parentIndex} (${comparison}, val mean ${formatScore(candidate.mean)})`,
    } as const
  })
