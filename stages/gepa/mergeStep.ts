/**
 * The merge step at the start of an iteration: tried only when merging is on, merges are due and the
 * previous iteration accepted a reflective child. Finds a merge among the Pareto survivors (`findMerge`),
 * scores the merged child on the stratified gate subsample (sum ≥ the better parent's sum to pass), then
 * validates it fully and adds it with two parents. Returns undefined when no merge was attempted, so the
 * iteration goes on with reflection.
 */
import { Effect } from "effect"
import { sumScores } from "./acceptance.ts"
import type { GepaExample } from "./adapter.ts"
import { canAfford } from "./budget.ts"
import { budgetedCalls } from "./evaluator.ts"
import { candidateHash } from "./candidate.ts"
import { inheritPointer } from "./componentSelector.ts"
import type { Engine, EngineState } from "./engine.ts"
import { formatScore, type IterationOutcome, type ProposalDraft } from "./iteration.ts"
import { findMerge, mergeGateIds, sourcesKey, tripletKey } from "./merge.ts"
import { frontSurvivors, pruneDominated } from "./pareto.ts"

export const mergeIteration = <Example extends GepaExample, E, R>(
  engine: Engine<Example, E, R>,
  state: EngineState,
): Effect.Effect<IterationOutcome | undefined, E, R> =>
  Effect.gen(function* () {
    const { merge, pool } = state
    if (!engine.merge.enabled || merge.due <= 0 || !merge.lastIterationAccepted) return undefined
    const survivors = frontSurvivors(pruneDominated(pool.currentFronts(), pool.means))
    const sharedValidation = (a: number, b: number) => {
      const other = pool.get(b).valScores
      return [...pool.get(a).valScores.keys()].filter((id) => other.has(id)).length
    }
    const plan = findMerge(pool.candidates, survivors, merge.tried, state.rng, { sharedValidation, overlapFloor: engine.merge.overlapFloor })
    if (plan === undefined) return undefined
    const { triplet, components } = plan
    const first = pool.get(triplet.first)
    const second = pool.get(triplet.second)
    const child = { components, hash: candidateHash(components) }
    const gateIds = mergeGateIds(first.valScores, second.valScores, engine.valIds, state.rng)
    // Runs: the gate ids are validation ids the full validation reuses. Reference: the gate, then a full validation.
    const cost =
      state.ledger.accounting === "runs" ? yield* engine.evaluator.chargeable(child.hash, "val", engine.valIds) : gateIds.length + engine.valIds.length
    if (gateIds.length === 0 || !canAfford(engine.budget, budgetedCalls(state.ledger), cost)) return undefined
    merge.tried.add(tripletKey(triplet))
    merge.tried.add(sourcesKey(triplet, plan.sources))

    const gateResults = yield* engine.evaluator.evaluate(child, "val", gateIds.map((id) => engine.valById.get(id)!))
    const sumAfter = sumScores(gateResults.map((result) => result.score))
    const sumBefore = Math.max(sumScores(gateIds.map((id) => first.valScores.get(id)!)), sumScores(gateIds.map((id) => second.valScores.get(id)!)))
    const changed = engine.names.filter((_, position) => components[position]![1] !== pool.get(triplet.ancestor).components[position]![1])
    const comparison = `gate sum ${formatScore(sumAfter)} vs the better parent's ${formatScore(sumBefore)} on ${gateIds.length} validation examples`
    const draft = {
      iteration: state.iteration,
      kind: "merge" as const,
      parents: [triplet.first, triplet.second],
      components: changed,
      minibatch: gateIds,
      sumBefore,
      sumAfter,
      reflectionPrompt: null,
      reflectionOutput: `merge of ${triplet.first} and ${triplet.second} over common ancestor ${triplet.ancestor}`,
      offline: engine.reflector.mode === "offline",
    }
    if (sumAfter < sumBefore) {
      const proposal: ProposalDraft = { ...draft, accepted: false, reason: `${comparison}: below`, childIdx: null }
      return { kind: "done", proposal, candidate: undefined, summary: `merge of ${triplet.first} and ${triplet.second} rejected (${comparison})` } as const
    }

    const gate = new Set(gateIds)
    const metricCalls = budgetedCalls(state.ledger)
    const rest = yield* engine.evaluator.evaluate(child, "val", engine.valset.filter((example) => !gate.has(example.id)), engine.valIds.length)
    const valScores = new Map([...gateResults, ...rest].map((result) => [result.example.id, result.score]))
    const candidate = pool.add({
      ...child,
      parents: [triplet.first, triplet.second],
      origin: "merge",
      iteration: state.iteration,
      metricCalls,
      offline: engine.reflector.mode === "offline" || first.offline || second.offline,
      valScores: new Map(engine.valIds.filter((id) => valScores.has(id)).map((id) => [id, valScores.get(id)!])),
    })
    state.pointers.push(inheritPointer([state.pointers[triplet.first]!, state.pointers[triplet.second]!]))
    merge.due -= 1
    merge.performed += 1
    const proposal: ProposalDraft = { ...draft, accepted: true, reason: comparison, childIdx: candidate.idx }
    return {
      kind: "done",
      proposal,
      candidate,
      summary: `merged ${triplet.first} and ${triplet.second} into candidate ${candidate.idx} (val mean ${formatScore(candidate.mean)})`,
    } as const
  })
