/**
 * The SQLite state port of one stage: candidates, evaluations (the evaluation cache), proposals and
 * reflections in the outer-level tables, the checkpoint in the stage's `state_json`. An iteration's
 * candidate, proposal and checkpoint are written in one IMMEDIATE transaction.
 */
import { Effect } from "effect"
import { Store } from "../../src/services/Store.ts"
import * as outer from "../../src/services/store/outer.ts"
import * as runs from "../../src/services/store/runs.ts"
import { decodeCheckpoint } from "./checkpoint.ts"
import type { GepaStatePort } from "./statePort.ts"
import { failpoint } from "../../src/services/failpoints.ts"

export const makeSqliteStatePort = (stageId: number): Effect.Effect<GepaStatePort, never, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    return {
      load: store.use((db) => {
        const state = runs.getStage(db, stageId)?.state
        if (state === null || state === undefined) return undefined
        const checkpoint = decodeCheckpoint(state)
        return { checkpoint, candidates: outer.listCandidates(db, stageId).slice(0, checkpoint.candidateCount) }
      }),
      lookupEvaluations: (candidateHash, split, exampleIds) =>
        store.use((db) => new Map(outer.getEvaluationsFor(db, stageId, candidateHash, split, exampleIds).map((record) => [record.exampleId, record]))),
      validationScores: (candidateHash) => store.use((db) => outer.getScores(db, stageId, candidateHash, "val")),
      recordEvaluations: (evaluations) => store.transaction((db) => outer.insertEvaluations(db, stageId, evaluations)),
      reflections: (iteration) => store.use((db) => outer.listIterationReflections(db, stageId, iteration)),
      recordReflection: (reflection) => store.use((db) => outer.putReflection(db, stageId, reflection)),
      commit: (commit) =>
        store.transaction((db) => {
          if (commit.candidate) outer.insertCandidate(db, stageId, commit.candidate)
          if (commit.proposal) outer.insertProposal(db, stageId, commit.proposal)
          runs.saveStageState(db, stageId, commit.checkpoint)
        }).pipe(Effect.andThen(failpoint(commit.proposal ? "gepa-proposal-recorded" : "gepa-checkpoint"))),
    } satisfies GepaStatePort
  })
