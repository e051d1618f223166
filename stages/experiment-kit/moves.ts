/**
 * The offline proposer: a real baseline optimizer over the tunable constants of the editable files, with
 * no LLM. It is a coarse-to-fine coordinate search:
 *  - moves: scale numbers (×2, ×½, then ×√2, ×1/√2, then ×1.19, ×0.84 once the coarser steps were tried at
 *    the current point), toggle booleans, switch strings among the alternatives named in their comment;
 *  - a move that helped is pushed further first (same factor again from the new value);
 *  - a move already tried at the current point (the current values of all constants) is never repeated
 *    there; one that hurt elsewhere is tried after the others;
 *  - constants named by the handed-over directions go first, in the directions' order;
 *  - ties are broken with the seeded rng.
 * Pure: history comes in as data, randomness as an Rng.
 */
import type { Edit } from "../../src/domain/Edit.ts"
import type { Direction } from "../../src/domain/Handoff.ts"
import type { Rng } from "../../src/common/rng.ts"
import { applyChanges } from "./edits.ts"
import { changesOfEdit, findTunables, formatNumber, plainText, pointSignature, type Tunable, type TunableChange, type TunableContext } from "./tunables/index.ts"

export interface Move {
  readonly file: string
  readonly name: string
  readonly from: string
  readonly to: string
  /** The point (all constant values) the move starts from. */
  readonly point: string
}

export interface MoveOutcome extends Move {
  /** Improvement over the incumbent (positive = better); null when the run crashed or timed out. */
  readonly delta: number | null
  readonly kept: boolean
}

interface Candidate {
  readonly constant: Tunable
  readonly to: string
  readonly factor: number | null
  /** Lower first. */
  readonly rank: ReadonlyArray<number>
  readonly why: string
  readonly direction: string
}

const coarse = [2, 0.5]
const medium = [Math.SQRT2, Math.SQRT1_2]
const fine = [1.19, 0.84]

/** The rank of a constant among the directions (index of the first direction naming it), or Infinity. */
export const directionRank = (name: string, directions: ReadonlyArray<Direction>): number => {
  const index = directions.findIndex((direction) => direction.constants.includes(name) || new RegExp(`\\b${name}\\b`).test(direction.text))
  return index === -1 ? Infinity : index
}

/**
 * What a direction's wording asks of a constant: "increase"/"raise"/"larger" prefer moves up,
 * "decrease"/"lower"/"smaller" moves down, and a quoted or bare alternative after "to" a string value.
 */
export const directionPreference = (text: string, constant: Tunable): ((to: string) => boolean) | undefined => {
  if (constant.value.kind === "number") {
    if (/\b(increase|raise|larger|higher|more|bigger|wider|longer|up)\b/i.test(text)) return (to) => Number(to) > Number(constant.value.text)
    if (/\b(decrease|lower|smaller|reduce|less|narrower|shorter|down)\b/i.test(text)) return (to) => Number(to) < Number(constant.value.text)
    return undefined
  }
  if (constant.value.kind === "string") {
    const named = constant.alternatives.find((alternative) => new RegExp(`\\bto\\s+["'\`]?${alternative.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "i").test(text))
    return named === undefined ? undefined : (to) => plainText(to) === named
  }
  return undefined
}

const scaled = (constant: Tunable, factor: number): string | undefined => {
  if (constant.value.kind !== "number") return undefined
  const { value, integer } = constant.value
  if (value === 0) return integer && factor > 1 ? "1" : undefined
  let next = value * factor
  if (integer) {
    next = Math.round(next)
    if (next === value) next = value + (factor > 1 ? 1 : -1)
    if (Math.sign(next) !== Math.sign(value) || next === 0) return undefined
  }
  const text = formatNumber(next, constant.value)
  return text === constant.value.text || Number(text) === value ? undefined : text
}

export interface OfflineProposal {
  readonly edit: Edit
  readonly move: Move
}

export interface OfflineInput {
  /** Editable files at the incumbent: path → content. */
  readonly files: ReadonlyMap<string, string>
  readonly directions: ReadonlyArray<Direction>
  readonly history: ReadonlyArray<MoveOutcome>
  /** Moves in flight (prepared or running) that must not be proposed again. */
  readonly pending: ReadonlyArray<Move>
  readonly rng: Rng
  /** How the target runs: tunables its command sets are never moved. */
  readonly context?: TunableContext
}

/** Every tunable of the files (see tunables/index.ts). */
export const allConstants = (files: ReadonlyMap<string, string>, context?: TunableContext): Array<Tunable> => findTunables(files, context)

/**
 * Every untried move at the current point, best first; ties within a tier are shuffled with the rng.
 * `proposeOffline` takes the first; the outer stage's proxy scenarios take the k-th.
 */
export const rankProposals = (input: OfflineInput): Array<OfflineProposal> => {
  const constants = allConstants(input.files, input.context)
  // The point is every tunable's value, whatever the command sets (as replayMoves computes it).
  const point = pointSignature(findTunables(input.files))
  const key = (name: string, to: string) => `${name}\u0000${to}`
  const triedHere = new Set([...input.history, ...input.pending].filter((m) => m.point === point).map((m) => key(m.name, m.to)))
  // Moves that hurt somewhere, and the reverse of moves that were kept (undoing a gain), go after the others.
  const hurt = new Set([
    ...input.history.filter((m) => m.delta === null || m.delta <= 0).map((m) => key(m.name, m.to)),
    ...input.history.filter((m) => m.kept).map((m) => key(m.name, m.from)),
  ])
  const lastKept = new Map<string, MoveOutcome>()
  for (const outcome of input.history) if (outcome.kept) lastKept.set(outcome.name, outcome)
  const usesDirections = input.directions.length > 0

  const candidates: Array<Candidate> = []
  for (const constant of constants) {
    const dirRank = directionRank(constant.name, input.directions)
    const named = Number.isFinite(dirRank)
    const direction = named ? input.directions[dirRank]!.text : `tune ${constant.name}`
    const prefers = named ? directionPreference(direction, constant) : undefined
    const outside = usesDirections && !named ? 1 : 0
    const add = (to: string | undefined, factor: number | null, tier: number, why: string) => {
      if (to === undefined || to === constant.value.text || triedHere.has(key(constant.name, to))) return
      const penalty = hurt.has(key(constant.name, to)) ? 1 : 0
      const against = prefers && !prefers(to) ? 1 : 0
      // Coarse moves of every direction come before finer steps of any; within a tier, moves known to hurt
      // and moves against a direction's wording go last, then the directions' order decides.
      candidates.push({ constant, to, factor, rank: [outside, tier, penalty, against, named ? dirRank : 0], why, direction })
    }
    const value = constant.value
    if (value.kind === "number") {
      const kept = lastKept.get(constant.name)
      if (kept && kept.to === value.text) {
        const factor = Number(kept.to) / Number(kept.from)
        if (Number.isFinite(factor) && factor > 0 && factor !== 1) add(scaled(constant, factor), factor, 0, `push further: ${kept.from} → ${kept.to} helped`)
      }
      const triedAll = (factors: ReadonlyArray<number>) => factors.every((f) => {
        const to = scaled(constant, f)
        return to === undefined || triedHere.has(key(constant.name, to))
      })
      for (const factor of coarse) add(scaled(constant, factor), factor, 1, `scale ×${factor}`)
      if (triedAll(coarse)) for (const factor of medium) add(scaled(constant, factor), factor, 2, `finer step ×${factor.toFixed(2)}`)
      if (triedAll(coarse) && triedAll(medium)) for (const factor of fine) add(scaled(constant, factor), factor, 3, `finer step ×${factor}`)
    } else if (value.kind === "boolean") {
      add(constant.format(!value.value), null, 1, "toggle")
    } else {
      for (const alternative of constant.alternatives) add(constant.format(alternative), null, 1, `switch to ${alternative}`)
    }
  }
  const compare = (a: Candidate, b: Candidate) => {
    for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i]! - b.rank[i]!
    return 0
  }
  // Shuffle first so ties are broken by the seeded rng, then a stable sort by rank.
  const ordered = input.rng.shuffle(candidates).sort(compare)
  return ordered.map((chosen) => {
    const { constant, to } = chosen
    const outsideNote = usesDirections && !Number.isFinite(directionRank(constant.name, input.directions)) ? " (outside the handed-over directions, which are exhausted at this point)" : ""
    return {
      move: { file: constant.file, name: constant.name, from: constant.value.text, to, point },
      edit: {
        direction: chosen.direction,
        rationale: `offline proposer: ${chosen.why}${outsideNote}`,
        description: `${constant.name} ${constant.value.text} -> ${to}`,
        changes: [constant.change(to)],
      },
    }
  })
}

/** The next move, or undefined when every move at this point has been tried. */
export const proposeOffline = (input: OfflineInput): OfflineProposal | undefined => rankProposals(input)[0]

export interface HistoryExperiment {
  readonly purpose: string
  readonly status: string
  readonly baseCommit: string | null
  readonly resultCommit: string | null
  readonly edit: Edit | null
  readonly improvement: number | null
}

const settledStatuses = new Set(["keep", "discard", "crash", "timeout"])
const flyingStatuses = new Set(["planned", "running", "measured"])

/**
 * Replays the stage's experiments (in order) to recover where each move was tried: the files at the stage's
 * base commit are `initialFiles`; a kept edit gives the files at its result commit. Settled rows become
 * history; rows still planned, running or awaiting judgement become pending moves. A row whose base commit
 * is unknown (it was never reached by a kept edit here) counts at an unknown point.
 */
export const replayMoves = (
  experiments: ReadonlyArray<HistoryExperiment>,
  baseCommit: string,
  initialFiles: ReadonlyMap<string, string>,
): { history: Array<MoveOutcome>; pending: Array<Move> } => {
  const filesAt = new Map<string, ReadonlyMap<string, string>>([[baseCommit, initialFiles]])
  const history: Array<MoveOutcome> = []
  const pending: Array<Move> = []
  for (const experiment of experiments) {
    if (!experiment.edit || experiment.purpose === "confirm" || experiment.purpose === "baseline") continue
    const settled = settledStatuses.has(experiment.status)
    if (!settled && !flyingStatuses.has(experiment.status)) continue
    const files = experiment.baseCommit ? filesAt.get(experiment.baseCommit) : undefined
    const changes: Array<TunableChange> = files ? changesOfEdit(files, experiment.edit.changes) : []
    const point = files ? pointSignature(findTunables(files)) : `unknown:${experiment.baseCommit}`
    if (!settled) {
      for (const change of changes) pending.push({ ...change, point })
      continue
    }
    const kept = experiment.status === "keep"
    const delta = experiment.status === "crash" || experiment.status === "timeout" ? null : experiment.improvement
    for (const change of changes) history.push({ ...change, point, delta, kept })
    if (kept && experiment.resultCommit && files) {
      const applied = applyChanges(files, experiment.edit.changes)
      if (applied.ok) filesAt.set(experiment.resultCommit, new Map([...files, ...applied.files]))
    }
  }
  return { history, pending }
}
