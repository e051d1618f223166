/**
 * Where an optimization keeps its state: the candidate pool, the evaluation cache, stored reflection
 * replies, proposals and the checkpoint. Two implementations: in memory (this file, for library users who
 * want no database) and SQLite through the Store service (`sqliteStatePort.ts`).
 */
import { Effect } from "effect"
import type { CandidateRecord, EvaluationRecord, ProposalRecord, Split } from "../../src/domain/Candidate.ts"
import type { Checkpoint } from "./checkpoint.ts"

export interface StoredReflection {
  readonly iteration: number
  readonly component: string
  readonly prompt: string
  readonly output: string
  readonly offline: boolean
  /** USD of the call the reply came from (0 when unknown or not an LLM call). */
  readonly costUsd: number
  readonly llmCallId: number | null
}

/** What one iteration boundary writes. */
export interface IterationCommit {
  readonly candidate?: CandidateRecord | undefined
  readonly proposal?: ProposalRecord | undefined
  readonly checkpoint: Checkpoint
}

export interface StoredState {
  readonly checkpoint: Checkpoint
  /** The pool in index order, exactly the candidates committed with or before the checkpoint. */
  readonly candidates: ReadonlyArray<CandidateRecord>
}

/**
 * Contract: `commit` writes the candidate, the proposal and the checkpoint atomically (all or none), so a
 * crash leaves the state of the last completed iteration. `recordEvaluations` (one transaction) and
 * `recordReflection` are durable when they return and idempotent per key (the first evaluation of a key
 * is kept; a reflection of the same iteration and component is replaced). No method fails: storage
 * failures are defects.
 */
export interface GepaStatePort {
  /** The last checkpoint and its pool; undefined when nothing was committed yet. */
  readonly load: Effect.Effect<StoredState | undefined>
  /** Stored evaluations of one candidate on one split among `exampleIds`, by example id. */
  readonly lookupEvaluations: (candidateHash: string, split: Split, exampleIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, EvaluationRecord>>
  /** Every stored validation score of one candidate, by example id. */
  readonly validationScores: (candidateHash: string) => Effect.Effect<ReadonlyMap<string, number>>
  readonly recordEvaluations: (evaluations: ReadonlyArray<EvaluationRecord>) => Effect.Effect<void>
  /** Reflection replies stored for one iteration (to replay it without asking again). */
  readonly reflections: (iteration: number) => Effect.Effect<ReadonlyArray<StoredReflection>>
  readonly recordReflection: (reflection: StoredReflection) => Effect.Effect<void>
  readonly commit: (commit: IterationCommit) => Effect.Effect<void>
}

const evaluationKey = (candidateHash: string, split: Split, exampleId: string) => `${candidateHash}\u0000${split}\u0000${exampleId}`

export interface MemoryStatePort extends GepaStatePort {
  /** Everything committed so far, for inspection. */
  readonly proposals: () => ReadonlyArray<ProposalRecord>
  readonly evaluationCount: () => number
}

/** A state port held in memory; reusing the same port object in a later `optimize` call resumes it. */
export const makeMemoryStatePort = (): MemoryStatePort => {
  const evaluations = new Map<string, EvaluationRecord>()
  const validation = new Map<string, Map<string, number>>()
  const reflections = new Map<number, Map<string, StoredReflection>>()
  const candidates: Array<CandidateRecord> = []
  const proposals: Array<ProposalRecord> = []
  let checkpoint: Checkpoint | undefined
  return {
    load: Effect.sync(() => (checkpoint === undefined ? undefined : { checkpoint, candidates: candidates.slice(0, checkpoint.candidateCount) })),
    lookupEvaluations: (candidateHash, split, exampleIds) =>
      Effect.sync(() => {
        const found = new Map<string, EvaluationRecord>()
        for (const exampleId of exampleIds) {
          const record = evaluations.get(evaluationKey(candidateHash, split, exampleId))
          if (record) found.set(exampleId, record)
        }
        return found
      }),
    validationScores: (candidateHash) => Effect.sync(() => new Map(validation.get(candidateHash) ?? [])),
    recordEvaluations: (records) =>
      Effect.sync(() => {
        for (const evaluation of records) {
          const key = evaluationKey(evaluation.candidateHash, evaluation.split, evaluation.exampleId)
          if (evaluations.has(key)) continue
          evaluations.set(key, evaluation)
          if (evaluation.split !== "val") continue
          const scores = validation.get(evaluation.candidateHash) ?? new Map<string, number>()
          scores.set(evaluation.exampleId, evaluation.score)
          validation.set(evaluation.candidateHash, scores)
        }
      }),
    reflections: (iteration) => Effect.sync(() => [...(reflections.get(iteration)?.values() ?? [])]),
    recordReflection: (reflection) =>
      Effect.sync(() => {
        const ofIteration = reflections.get(reflection.iteration) ?? new Map<string, StoredReflection>()
        ofIteration.set(reflection.component, reflection)
        reflections.set(reflection.iteration, ofIteration)
      }),
    commit: (commit) =>
      Effect.sync(() => {
        if (commit.candidate) candidates.push(commit.candidate)
        if (commit.proposal) proposals.push(commit.proposal)
        checkpoint = commit.checkpoint
      }),
    proposals: () => [...proposals],
    evaluationCount: () => evaluations.size,
  }
}
