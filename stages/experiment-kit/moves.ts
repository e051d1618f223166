/**
 * The move engine: the offline proposer's search over the tunables of the editable files, with no LLM. It
 * is a coarse-to-fine coordinate search that also makes the multi-tunable moves coordinate search cannot:
 *  - single moves: numbers scaled ×2 and ×½, then ×√2 and ×1/√2, then ×1.19 and ×0.84 once the coarser
 *    steps were tried at the current point; a number at 0 gets a ladder of small values instead (weight
 *    decay, dropout and warmup are 0 by default in most scripts); booleans toggled; strings switched among
 *    their alternatives;
 *  - a move that was kept is pushed further (the same factor again);
 *  - a categorical switch (string or boolean) that crashed, diverged or hurt is retried together with the
 *    step-size tunables it couples with (learning rates) rescaled: ×0.1 and ×0.01 after a crash, also ×10
 *    after a plain loss; once that many of those retries failed (at any point), the switch is refuted and
 *    is not retried so again;
 *  - tunables whose every move changed the metric by no more than the noise are inert: tried last;
 *  - moves that helped a little on different tunables are combined into one move (when together they would
 *    clear the noise), and
 *    once the current point is worn out (as many failed moves as live tunables) random perturbations of
 *    several tunables at once are tried too: the ways out of a local optimum;
 *  - a direction of the form `set NAME=value, OTHER=value` is that exact move, tried first in the order of
 *    the directions while its evidence still holds: no keep moved a tunable it sets, nor switched a
 *    choice a step size it sets couples with; other directions order the tunables they name;
 *  - a move already tried at the current point (all tunable values) is never repeated there; one that hurt
 *    anywhere, or that undoes a kept move, goes after the others; ties are broken by the seeded rng.
 * Every move is only a proposal: the caller's keep gate judges it. Pure: history comes in as data,
 * randomness as an Rng.
 */
import type { Rng } from "../../src/common/rng.ts"
import type { Edit, FileChange } from "../../src/domain/Edit.ts"
import type { Direction } from "../../src/domain/Handoff.ts"
import { applyChanges } from "./edits.ts"
import { changesOfEdit, findTunables, formatNumber, plainText, pointSignature, type Tunable, type TunableContext } from "./tunables/index.ts"

/** One tunable set to a new value (value texts as the source writes them). */
export interface Assignment {
  readonly file: string
  readonly name: string
  readonly from: string
  readonly to: string
}

/** A move: one or more assignments made together, from a point (the values of every tunable). */
export interface Move {
  readonly point: string
  readonly changes: ReadonlyArray<Assignment>
}

export interface MoveOutcome extends Move {
  /** Improvement over the incumbent (positive = better, the caller's unit); null when the run crashed or timed out. */
  readonly delta: number | null
  readonly kept: boolean
}

export interface OfflineProposal {
  readonly edit: Edit
  readonly move: Move
}

export interface OfflineInput {
  /** Editable files at the current point: path → content. */
  readonly files: ReadonlyMap<string, string>
  readonly directions: ReadonlyArray<Direction>
  readonly history: ReadonlyArray<MoveOutcome>
  /** Moves in flight (prepared or running) that must not be proposed again. */
  readonly pending: ReadonlyArray<Move>
  readonly rng: Rng
  /** Improvements of at most this size are noise (the history's unit); 0 or absent: unknown. */
  readonly noise?: number
  /** How the target runs: tunables its command sets are never moved. */
  readonly context?: TunableContext
}

const coarse = [2, 0.5]
const medium = [Math.SQRT2, Math.SQRT1_2]
const fine = [1.19, 0.84]
const floatLadder = [1e-3, 1e-2, 0.1]
const integerLadder = [1, 10, 100]
/** Step sizes a categorical switch couples with. */
const stepSizeName = /(^|[^a-z])(lr|learning[_-]?rate|step[_-]?size|eta)($|[^a-z])/i

/** A tunable a move sets, or a kept move changed since some evidence was measured, and whether it is a choice (string or boolean). */
export interface MovedTunable {
  readonly name: string
  readonly categorical: boolean
}

/** The tunables whose values differ between two points (the base and the incumbent), in `after`'s order. */
export const movedBetween = (before: ReadonlyArray<Tunable>, after: ReadonlyArray<Tunable>): Array<MovedTunable> =>
  after
    .filter((t) => before.find((b) => b.name === t.name && b.file === t.file)?.value.text !== t.value.text)
    .map((t) => ({ name: t.name, categorical: t.value.kind !== "number" }))

/**
 * Why evidence measured before some keeps no longer speaks for a move, or undefined when it still does. It is
 * stale when the move sets a tunable a keep moved since (it was measured from that tunable's earlier value,
 * so it never compared its value with the kept one), or when a step size and a choice (an optimizer, an
 * activation) are on its two sides: it sets a step size and a keep switched a choice since, or it switches a
 * choice and a keep moved a step size since. The step size a choice takes is the coupling the compound
 * retries act on, so the one was measured for the other's earlier value. Pure.
 */
export const staleEvidence = (changes: ReadonlyArray<MovedTunable>, moved: ReadonlyArray<MovedTunable>): string | undefined => {
  const same = changes.find((c) => moved.some((m) => m.name === c.name))
  if (same) return `a keep moved ${same.name} since it was measured`
  const step = changes.find((c) => !c.categorical && stepSizeName.test(c.name))
  const switched = moved.find((m) => m.categorical)
  if (step && switched) return `${step.name} was measured with ${switched.name} at its earlier value`
  const choice = changes.find((c) => c.categorical)
  const stepMoved = moved.find((m) => !m.categorical && stepSizeName.test(m.name))
  return choice && stepMoved ? `${choice.name} was measured with ${stepMoved.name} at its earlier value` : undefined
}

/** A move's identity: its assignments, order-free. */
export const moveKey = (changes: ReadonlyArray<Pick<Assignment, "name" | "to">>): string =>
  changes
    .map((c) => `${c.name}=${c.to}`)
    .sort()
    .join("\u0000")

/** The rank of a tunable among the directions (index of the first direction naming it), or Infinity. */
export const directionRank = (name: string, directions: ReadonlyArray<Direction>): number => {
  const index = directions.findIndex((direction) => direction.constants.includes(name) || new RegExp(`(^|[^\\w-])${escapeRegExp(name)}($|[^\\w-])`).test(direction.text))
  return index === -1 ? Infinity : index
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * What a direction's wording asks of a tunable: "increase"/"raise"/"larger" prefer moves up,
 * "decrease"/"lower"/"smaller" moves down, and a quoted or bare alternative after "to" a string value.
 */
export const directionPreference = (text: string, tunable: Tunable): ((to: string) => boolean) | undefined => {
  if (tunable.value.kind === "number") {
    if (/\b(increase|raise|larger|higher|more|bigger|wider|longer|up)\b/i.test(text)) return (to) => Number(to) > Number(tunable.value.text)
    if (/\b(decrease|lower|smaller|reduce|less|narrower|shorter|down)\b/i.test(text)) return (to) => Number(to) < Number(tunable.value.text)
    return undefined
  }
  if (tunable.value.kind === "string") {
    const named = tunable.alternatives.find((alternative) => new RegExp(`\\bto\\s+["'\`]?${escapeRegExp(alternative)}\\b`, "i").test(text))
    return named === undefined ? undefined : (to) => plainText(to) === named
  }
  return undefined
}

/** The assignments of a `set NAME=value, OTHER=value` direction, resolved against the tunables; undefined when it is not one. */
export const explicitAssignments = (text: string, tunables: ReadonlyArray<Tunable>): Array<Assignment> | undefined => {
  const body = /(?:^|[\s(:;])set\s+(.+)$/i.exec(text)?.[1]
  if (body === undefined) return undefined
  const out: Array<Assignment> = []
  for (const match of body.matchAll(/([A-Za-z_][\w.\-]*)\s*=\s*("[^"]*"|'[^']*'|[^\s,;()]+)/g)) {
    const tunable = tunables.find((t) => t.name === match[1])
    if (!tunable) return undefined
    const raw = match[2]!
    let to: string
    if (tunable.value.kind === "number") {
      if (!Number.isFinite(Number(raw))) return undefined
      to = raw
    } else if (tunable.value.kind === "boolean") {
      if (!/^(true|false)$/i.test(raw)) return undefined
      to = tunable.format(/^true$/i.test(raw))
    } else to = tunable.format(plainText(raw))
    if (to !== tunable.value.text) out.push({ file: tunable.file, name: tunable.name, from: tunable.value.text, to })
  }
  return out.length > 0 ? out : undefined
}

/** The value text of a number scaled by `factor` (integers stay integers and off 0); undefined when nothing changes. */
export const scaled = (tunable: Tunable, factor: number): string | undefined => {
  if (tunable.value.kind !== "number") return undefined
  const { value, integer } = tunable.value
  if (value === 0) return undefined
  let next = value * factor
  if (integer) {
    next = Math.round(next)
    if (next === value) next = value + (factor > 1 ? 1 : -1)
    if (Math.sign(next) !== Math.sign(value) || next === 0) return undefined
  }
  const text = formatNumber(next, tunable.value)
  return text === tunable.value.text || Number(text) === value ? undefined : text
}

/** Small positive values for a number that is 0. */
const ladder = (tunable: Tunable): Array<string> =>
  tunable.value.kind === "number" && tunable.value.value === 0 ? (tunable.value.integer ? integerLadder : floatLadder).map(String) : []

interface Candidate {
  readonly changes: ReadonlyArray<Assignment>
  /** Lower first: [inert, outside the directions, tier, known to hurt, against the wording, explored, direction rank]. */
  readonly rank: ReadonlyArray<number>
  readonly why: string
  readonly direction: string
}

/** Tunables whose every settled move (two at least, none crashed) changed the metric by no more than the noise. */
export const inertTunables = (history: ReadonlyArray<MoveOutcome>, noise: number): Set<string> => {
  const out = new Set<string>()
  if (!(noise > 0)) return out
  const byName = new Map<string, Array<MoveOutcome>>()
  for (const outcome of history.filter((o) => o.changes.length === 1)) byName.set(outcome.changes[0]!.name, [...(byName.get(outcome.changes[0]!.name) ?? []), outcome])
  for (const [name, outcomes] of byName) if (outcomes.length >= 2 && outcomes.every((o) => o.delta !== null && Math.abs(o.delta) <= noise && !o.kept)) out.add(name)
  return out
}

/**
 * Every untried move at the current point, best first; ties within a rank are shuffled with the rng.
 * `proposeOffline` takes the first.
 */
export const rankProposals = (input: OfflineInput): Array<OfflineProposal> => {
  const tunables = findTunables(input.files, input.context)
  const byName = new Map(tunables.map((t) => [t.name, t]))
  // The point is every tunable's value, whatever the command sets (as replayMoves computes it).
  const point = pointSignature(findTunables(input.files))
  const noise = input.noise ?? 0
  const triedHere = new Set([...input.history, ...input.pending].filter((m) => m.point === point).map((m) => moveKey(m.changes)))
  const single = (name: string, to: string) => moveKey([{ name, to }])
  // Moves that hurt somewhere, and the reverse of kept moves (undoing a gain), go after the others.
  const hurt = new Set([
    ...input.history.filter((m) => m.delta === null || m.delta <= 0).map((m) => moveKey(m.changes)),
    ...input.history.filter((m) => m.kept).map((m) => moveKey(m.changes.map((c) => ({ name: c.name, to: c.from })))),
  ])
  const inert = inertTunables(input.history, noise)
  // A value some kept move moved a tunable away from: setting it back undoes a measured gain. Such a move
  // may still be tried as an ordinary move (it ranks as one that hurt), but never ahead of the queue.
  const leftBehind = new Set(input.history.filter((m) => m.kept).flatMap((m) => m.changes.map((c) => `${c.name}\u0000${c.from}`)))
  const undoesKept = (changes: ReadonlyArray<Pick<Assignment, "name" | "to">>) => changes.some((c) => leftBehind.has(`${c.name}\u0000${c.to}`))
  // Tunables a kept move changed. A direction's `set` was measured before them (the outer stage measures
  // from the base point); once its evidence is stale (staleEvidence) the move is no order to carry out, and
  // its direction still orders the tunables it names.
  const categorical = (name: string) => (byName.get(name)?.value.kind ?? "number") !== "number"
  const movedByKeep = [...new Set(input.history.filter((m) => m.kept).flatMap((m) => m.changes.map((c) => c.name)))].map((name) => ({ name, categorical: categorical(name) }))
  const lastKept = new Map<string, Assignment>()
  for (const outcome of input.history) if (outcome.kept && outcome.changes.length === 1) lastKept.set(outcome.changes[0]!.name, outcome.changes[0]!)
  const usesDirections = input.directions.length > 0
  // Tunables some settled move of this search changed. Among equal moves, one on a tunable not yet moved
  // goes first: the directions order the first pass over the tunables, but a tunable they rank high does
  // not get its moves again (after every keep) before a tunable they rank low got one.
  const explored = new Set(input.history.flatMap((m) => m.changes.map((c) => c.name)))
  const settledHere = input.history.filter((m) => m.point === point && !m.kept)
  const live = tunables.filter((t) => !inert.has(t.name))

  const candidates: Array<Candidate> = []
  const seen = new Set<string>()
  const failedDirection = input.directions.map((direction) => {
    const assignments = explicitAssignments(direction.text, tunables)
    return assignments !== undefined && hurt.has(moveKey(assignments))
  })
  const rankOf = (name: string) => {
    const index = directionRank(name, input.directions)
    return Number.isFinite(index) && failedDirection[index] ? index + input.directions.length : index
  }
  const add = (changes: ReadonlyArray<Assignment>, tier: number, why: string) => {
    const key = moveKey(changes)
    if (changes.length === 0 || triedHere.has(key) || seen.has(key)) return
    if (changes.some((c) => c.to === c.from)) return
    seen.add(key)
    const ranks = changes.map((c) => rankOf(c.name))
    const dirRank = Math.min(...ranks)
    const named = Number.isFinite(dirRank)
    const lead = changes[ranks.indexOf(dirRank)] ?? changes[0]!
    const direction = named ? input.directions[dirRank % input.directions.length]!.text : `tune ${lead.name}`
    const prefers = named ? directionPreference(direction, byName.get(lead.name)!) : undefined
    candidates.push({
      changes,
      rank: [
        changes.every((c) => inert.has(c.name)) ? 1 : 0,
        usesDirections && !named ? 1 : 0,
        tier,
        hurt.has(key) ? 1 : 0,
        prefers && !prefers(lead.to) ? 1 : 0,
        changes.every((c) => explored.has(c.name)) ? 1 : 0,
        named ? dirRank : 0,
      ],
      why,
      direction,
    })
  }
  const assign = (tunable: Tunable, to: string): Assignment => ({ file: tunable.file, name: tunable.name, from: tunable.value.text, to })

  // Exact moves named by the directions, in their order, before anything else, unless they already failed
  // (a proxy measurement that did not hold at this budget): then their direction ranks after the others.
  // A `set` direction whose own evidence says it did not help is no order to carry out, one that would
  // set back a value a kept move left (a later keep moved past the direction) is carried out already, and
  // one whose evidence a keep made stale (above) was measured at another point.
  input.directions.forEach((direction, index) => {
    const assignments = explicitAssignments(direction.text, tunables)
    const refuted = direction.evidence !== undefined && direction.evidence.tries > 0 && !(direction.evidence.meanDelta !== null && direction.evidence.meanDelta > 0)
    const stale = assignments !== undefined && staleEvidence(assignments.map((a) => ({ name: a.name, categorical: categorical(a.name) })), movedByKeep) !== undefined
    if (assignments && !hurt.has(moveKey(assignments)) && !refuted && !undoesKept(assignments) && !stale) add(assignments, -1 - (input.directions.length - index) / (input.directions.length + 1), "a move the directions name")
  })

  for (const tunable of tunables) {
    const value = tunable.value
    if (value.kind === "number") {
      const kept = lastKept.get(tunable.name)
      if (kept && kept.to === value.text && Number(kept.from) !== 0) {
        const factor = Number(kept.to) / Number(kept.from)
        const to = Number.isFinite(factor) && factor > 0 && factor !== 1 ? scaled(tunable, factor) : undefined
        // First in line, unless that very push already failed somewhere: then it is an ordinary move.
        if (to !== undefined) add([assign(tunable, to)], hurt.has(single(tunable.name, to)) ? 1 : 0, `push further: ${kept.from} → ${kept.to} helped`)
      }
      for (const to of ladder(tunable)) add([assign(tunable, to)], 1, "a small value for a setting that is 0 (off)")
      const untried = (factors: ReadonlyArray<number>) => factors.some((f) => {
        const to = scaled(tunable, f)
        return to !== undefined && !triedHere.has(single(tunable.name, to))
      })
      for (const factor of coarse) {
        const to = scaled(tunable, factor)
        if (to !== undefined) add([assign(tunable, to)], 1, `scale ×${factor}`)
      }
      if (!untried(coarse)) for (const factor of medium) {
        const to = scaled(tunable, factor)
        if (to !== undefined) add([assign(tunable, to)], 2, `finer step ×${factor.toFixed(2)}`)
      }
      if (!untried(coarse) && !untried(medium)) for (const factor of fine) {
        const to = scaled(tunable, factor)
        if (to !== undefined) add([assign(tunable, to)], 3, `finer step ×${factor}`)
      }
    } else if (value.kind === "boolean") add([assign(tunable, tunable.format(!value.value))], 1, "toggle")
    else for (const alternative of tunable.alternatives) add([assign(tunable, tunable.format(alternative))], 1, `switch to ${alternative}`)
  }

  // A categorical switch that crashed or hurt, retried with the learning rates rescaled. A crash (a step
  // size the new choice cannot take) is retried first, ×0.1; a switch that merely hurt is retried ×0.1 and
  // ×10 among the ordinary moves. ×0.01 follows only a ×0.1 retry that crashed too or did better than the
  // plain switch (the step size was the problem, and smaller helps). Once as many retries failed as there
  // are factors, the switch is refuted and its retries are not made again.
  const stepSizes = tunables.filter((t) => t.value.kind === "number" && t.value.value !== 0 && stepSizeName.test(t.name))
  const retriesOf = (name: string, to: string) =>
    input.history.filter((o) => o.changes.length === 2 && o.changes.some((c) => c.name === name && c.to === to) && o.changes.some((c) => c.name !== name && stepSizeName.test(c.name)))
  const stepFactorOf = (retry: MoveOutcome, switchedName: string) => {
    const step = retry.changes.find((c) => c.name !== switchedName)!
    return Number(step.to) / Number(step.from)
  }
  for (const outcome of input.history) {
    if (outcome.changes.length !== 1 || !(outcome.delta === null || outcome.delta <= 0)) continue
    const switched = byName.get(outcome.changes[0]!.name)
    if (!switched || switched.value.kind === "number") continue
    const to = outcome.changes[0]!.to
    // Not for a switch back to a value a kept move left: that gain was measured, the retries rarely pay.
    if (to === switched.value.text || undoesKept([{ name: switched.name, to }])) continue
    const crashed = outcome.delta === null
    const retries = retriesOf(switched.name, to)
    const smallerHelped = retries.some((r) => stepFactorOf(r, switched.name) < 1 && (r.delta === null || crashed || r.delta > outcome.delta!))
    const factors = [...(crashed ? [0.1] : [0.1, 10]), ...(smallerHelped ? [0.01] : [])]
    if (retries.filter((r) => r.delta === null || r.delta <= 0).length >= factors.length) continue
    for (const step of stepSizes.filter((s) => s.name !== switched.name)) {
      for (const factor of factors) {
        const rescaled = scaled(step, factor)
        if (rescaled !== undefined)
          add([assign(switched, to), assign(step, rescaled)], crashed ? 0.5 : 1, `${switched.name} → ${plainText(to)} ${crashed ? "crashed" : "hurt"}; retry it with ${step.name} ×${factor}`)
      }
    }
  }

  // Worn out here: every live tunable's first moves were tried (or twice as many moves failed).
  const firstMoves = (t: Tunable) =>
    t.value.kind === "number" ? [...coarse.map((f) => scaled(t, f)), ...ladder(t)].filter((to): to is string => to !== undefined) : t.value.kind === "boolean" ? [t.format(!t.value.value)] : t.alternatives.map((a) => t.format(a))
  const stuck = settledHere.length >= 2 * Math.max(2, live.length) || (settledHere.length >= 4 && live.every((t) => firstMoves(t).every((to) => triedHere.has(single(t.name, to)))))

  // Small gains on different tunables, together (an additive model of what was measured here).
  const positives = new Map<string, MoveOutcome>()
  for (const outcome of input.history.filter((o) => o.point === point && o.changes.length === 1 && o.delta !== null && o.delta > 0)) {
    const name = outcome.changes[0]!.name
    if ((positives.get(name)?.delta ?? -Infinity) < outcome.delta!) positives.set(name, outcome)
  }
  const gains = [...positives.values()].sort((a, b) => b.delta! - a.delta!)
  const expected = gains.reduce((sum, o) => sum + o.delta!, 0)
  // Only when together they would clear the noise: small gains that are noise add up to noise.
  if (gains.length >= 2 && expected > noise) {
    add(gains.map((o) => o.changes[0]!), stuck ? 0 : 1, `combine ${gains.length} moves that each helped (${gains.map((o) => o.changes[0]!.name).join(", ")}; together about ${Number(expected.toPrecision(3))})`)
  }

  // Worn out here: perturb several live tunables at once.
  if (stuck && live.length >= 2) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const chosen = input.rng.shuffle(live).slice(0, Math.min(3, live.length))
      const changes = chosen.flatMap((tunable) => {
        const options = firstMoves(tunable)
        return options.length === 0 ? [] : [assign(tunable, input.rng.pick(options))]
      })
      if (changes.length >= 2) add(changes, 1.5, `perturb ${changes.map((c) => c.name).join(", ")} together: single moves stopped clearing the gate here`)
    }
  }

  const compare = (a: Candidate, b: Candidate) => {
    for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i]! - b.rank[i]!
    return 0
  }
  // Shuffle first so ties are broken by the seeded rng, then a stable sort by rank.
  return input.rng.shuffle(candidates).sort(compare).map((chosen) => {
    const outsideNote = chosen.rank[1] === 1 ? " (outside the handed-over directions, which are exhausted at this point)" : ""
    const inertNote = chosen.rank[0] === 1 ? " (its moves so far changed the metric by no more than the noise)" : ""
    return {
      move: { point, changes: chosen.changes },
      edit: {
        direction: chosen.direction,
        rationale: `offline proposer: ${chosen.why}${outsideNote}${inertNote}`,
        description: chosen.changes.map((c) => `${c.name} ${c.from} -> ${c.to}`).join(", "),
        changes: changesFor(tunables, chosen.changes),
      },
    }
  })
}

/** The file changes that make the assignments (one per tunable; several in one file compose in order). */
export const changesFor = (tunables: ReadonlyArray<Tunable>, assignments: ReadonlyArray<Assignment>): Array<FileChange> =>
  assignments.map((a) => tunables.find((t) => t.name === a.name && t.file === a.file)!.change(a.to))

/** The next move, or undefined when every move at this point has been tried. */
export const proposeOffline = (input: OfflineInput): OfflineProposal | undefined => rankProposals(input)[0]

/**
 * The edit that makes `assignments` on `files`; undefined when a tunable is missing, when one no longer has
 * the `from` value an assignment names (then it would be another move), or when it does not apply.
 */
export const editOfAssignments = (
  files: ReadonlyMap<string, string>,
  assignments: ReadonlyArray<Pick<Assignment, "name" | "to"> & { readonly from?: string }>,
  text: { direction: string; rationale: string },
): Edit | undefined => {
  const tunables = findTunables(files)
  const resolved: Array<Assignment> = []
  for (const a of assignments) {
    const tunable = tunables.find((t) => t.name === a.name)
    if (!tunable || (a.from !== undefined && tunable.value.text !== a.from)) return undefined
    if (tunable.value.text !== a.to) resolved.push({ file: tunable.file, name: tunable.name, from: tunable.value.text, to: a.to })
  }
  if (resolved.length === 0) return undefined
  const edit: Edit = { ...text, description: resolved.map((c) => `${c.name} ${c.from} -> ${c.to}`).join(", "), changes: changesFor(tunables, resolved) }
  return applyChanges(files, edit.changes).ok ? edit : undefined
}

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
 * history; rows still planned, running or awaiting judgement become pending moves. An edit that changes no
 * tunable (an LLM's code change) is no move. A row whose base commit is unknown counts at an unknown point.
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
    const changes = files ? changesOfEdit(files, experiment.edit.changes) : []
    const point = files ? pointSignature(findTunables(files)) : `unknown:${experiment.baseCommit}`
    if (changes.length > 0) {
      if (!settled) pending.push({ point, changes })
      else {
        const delta = experiment.status === "crash" || experiment.status === "timeout" ? null : experiment.improvement
        history.push({ point, changes, delta, kept: experiment.status === "keep" })
      }
    }
    if (experiment.status === "keep" && experiment.resultCommit && files) {
      const applied = applyChanges(files, experiment.edit.changes)
      if (applied.ok) filesAt.set(experiment.resultCommit, new Map([...files, ...applied.files]))
    }
  }
  return { history, pending }
}
