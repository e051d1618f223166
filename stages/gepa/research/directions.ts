/**
 * Research directions as the outer stage evolves them: a ranked Markdown list (one component text), parsed
 * into structured directions for the inner stage, each with the evidence measured on proxy runs and the
 * budget it was measured at. The unit of evidence is a move (one or several tunables set together, as the
 * move engine makes them, or an LLM's edit): the offline reflector ranks the moves that helped, proposes the
 * next untried ones with the move engine (compound retries, zero ladders and combinations included), and
 * writes them as `set NAME=value` directions the proposers carry out exactly. The handoff also carries every
 * measured edit with its proxy Δ, for the inner stage to re-validate at the full budget. Pure.
 */
import type { Rng } from "../../../src/common/rng.ts"
import { mean } from "../../../src/common/stats.ts"
import type { MetricDirection } from "../../../src/config.ts"
import type { Edit } from "../../../src/domain/Edit.ts"
import type { Direction, DirectionEvidence, HandedEdit } from "../../../src/domain/Handoff.ts"
import { type Assignment, directionPreference, explicitAssignments, moveKey, type MoveOutcome, rankProposals } from "../../experiment-kit/moves.ts"
import { findTunables, pointSignature, type Tunable, type TunableContext } from "../../experiment-kit/tunables/index.ts"

/** One proxy run: the edit, the tunable assignments it made (none for a code change), and the relative improvement (null: crashed or timed out). */
export interface ProxyObservation {
  readonly scenario: string
  readonly edit: Edit
  readonly changes: ReadonlyArray<Assignment>
  /** (baseline − metric) / |baseline| for minimize, sign flipped for maximize; null for a crash or timeout. */
  readonly relativeDelta: number | null
  readonly proposer: string
}

/** The proxy evidence of one move, over the scenarios it ran on. */
export interface MoveEvidence {
  readonly key: string
  readonly edit: Edit
  readonly changes: ReadonlyArray<Assignment>
  readonly tries: number
  readonly crashes: number
  readonly meanDelta: number | null
  readonly proposer: string
}

export const relativeImprovement = (direction: MetricDirection, baseline: number, metric: number) =>
  (direction === "minimize" ? baseline - metric : metric - baseline) / Math.max(Math.abs(baseline), 1e-12)

/**
 * The score of one proxy run, in [0, 1]: 0.5 + r / (2·range), clipped, where r is the relative
 * improvement over the scenario's baseline (so no change scores 0.5, an improvement of `range` or more
 * scores 1, a regression of `range` or more scores 0). A run that crashed, timed out or was rejected
 * scores 0.
 */
export const proxyScore = (relativeDelta: number | null, range: number): number =>
  relativeDelta === null ? 0 : Math.min(1, Math.max(0, 0.5 + relativeDelta / (2 * range)))

const observationKey = (o: Pick<ProxyObservation, "changes" | "edit">) => (o.changes.length > 0 ? moveKey(o.changes) : `edit:${JSON.stringify(o.edit.changes)}`)

/** Observations grouped by move, best mean first (moves that only crashed last). */
export const evidenceByMove = (observations: ReadonlyArray<ProxyObservation>): Array<MoveEvidence> => {
  const groups = new Map<string, Array<ProxyObservation>>()
  for (const o of observations) groups.set(observationKey(o), [...(groups.get(observationKey(o)) ?? []), o])
  return [...groups].map(([key, list]) => {
    const measured = list.filter((o) => o.relativeDelta !== null).map((o) => o.relativeDelta!)
    return { key, edit: list[0]!.edit, changes: list[0]!.changes, tries: list.length, crashes: list.length - measured.length, meanDelta: measured.length > 0 ? mean(measured) : null, proposer: list[0]!.proposer }
  }).sort((a, b) => (b.meanDelta ?? -Infinity) - (a.meanDelta ?? -Infinity))
}

/** The history the move engine reads: every proxy move at the base point, its relative Δ as the delta. */
export const proxyHistory = (files: ReadonlyMap<string, string>, observations: ReadonlyArray<ProxyObservation>): Array<MoveOutcome> => {
  const point = pointSignature(findTunables(files))
  return observations.filter((o) => o.changes.length > 0).map((o) => ({ point, changes: o.changes, delta: o.relativeDelta, kept: false }))
}

const signed = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}%`

export const evidenceText = (evidence: DirectionEvidence) =>
  `(proxy evidence: ${evidence.tries} tr${evidence.tries === 1 ? "y" : "ies"}, mean Δ ${evidence.meanDelta === null ? "n/a" : signed(evidence.meanDelta)}, ${evidence.crashes} crash${evidence.crashes === 1 ? "" : "es"}${evidence.budgetSeconds !== undefined ? `, at ${evidence.budgetSeconds} s` : ""})`

const evidencePattern = /\(proxy evidence: (\d+) tr(?:y|ies), mean Δ (n\/a|[-+]?[\d.]+%), (\d+) crash(?:es)?(?:, at ([\d.]+) s)?\)/

/**
 * A generic prior over typical levers, most influential first (the order prompts/agent.md lists them):
 * learning rate, optimizer, schedule, width, depth, context, batch size, initialisation, regularisation.
 * Names match in any case and with `-`, `_` or `.` separators (`LEARNING_RATE`, `--lr`, `optim.lr`).
 */
const priorLevers: ReadonlyArray<RegExp> = [
  /(^|[^a-z])(lr|learning[_-]?rate)($|[^a-z])/i,
  /optim|momentum|beta/i,
  /schedule|warmup|decay[_-]?steps/i,
  /hidden|width|embd|embed|dim|channels/i,
  /layer|depth|heads?($|[^a-z])/i,
  /context|block|seq/i,
  /batch/i,
  /init/i,
  /weight[_-]?decay|dropout|clip|reg/i,
]

const priorRank = (name: string) => {
  const index = priorLevers.findIndex((pattern) => pattern.test(name.toUpperCase()))
  return index === -1 ? priorLevers.length : index
}

/** Tunables in prior order (typical levers first, then file order). */
export const byPrior = (tunables: ReadonlyArray<Tunable>): Array<Tunable> =>
  [...tunables]
    .map((tunable, order) => ({ tunable, order }))
    .sort((a, b) => priorRank(a.tunable.name) - priorRank(b.tunable.name) || a.order - b.order)
    .map(({ tunable }) => tunable)

const tuneLine = (t: Tunable) => `tune ${t.name} (now ${t.value.text})${t.value.kind === "string" && t.alternatives.length > 0 ? ` (alternatives: ${t.alternatives.join(", ")})` : ""}`

/** The seed directions when no LLM writes them: every tunable, typical levers first. */
export const seedDirectionsText = (tunables: ReadonlyArray<Tunable>): string => byPrior(tunables).map((t, i) => `${i + 1}. ${tuneLine(t)}`).join("\n")

/** Parses a ranked list (numbered or bulleted lines; other lines ignored) into directions. */
export const parseDirections = (text: string, knownTunables: ReadonlyArray<string>): Array<Direction> => {
  const out: Array<Direction> = []
  for (const line of text.split("\n")) {
    const match = /^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$/.exec(line)
    if (!match) continue
    const body = match[1]!
    const constants = knownTunables.filter((name) => new RegExp(`(^|[^\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^\\w-])`).test(body))
    const evidence = evidencePattern.exec(body)
    out.push({
      text: body.replace(evidencePattern, "").trim(),
      constants,
      ...(evidence
        ? {
            evidence: {
              tries: Number(evidence[1]),
              meanDelta: evidence[2] === "n/a" ? null : Number(evidence[2]!.replace("%", "")) / 100,
              crashes: Number(evidence[3]),
              ...(evidence[4] !== undefined ? { budgetSeconds: Number(evidence[4]) } : {}),
            },
          }
        : {}),
    })
  }
  return out
}

export const renderDirections = (directions: ReadonlyArray<Direction>): string =>
  directions.map((d, i) => `${i + 1}. ${d.text}${d.evidence ? ` ${evidenceText(d.evidence)}` : ""}`).join("\n")

const summarize = (list: ReadonlyArray<ProxyObservation>, budgetSeconds: number): DirectionEvidence => {
  const measured = list.filter((o) => o.relativeDelta !== null)
  return { tries: list.length, meanDelta: measured.length > 0 ? mean(measured.map((o) => o.relativeDelta!)) : null, crashes: list.length - measured.length, budgetSeconds }
}

/**
 * Gives each direction the evidence of the proxy runs it speaks for: a `set` direction, the runs of exactly
 * that move; another, the single-tunable moves of what it names that agree with its wording ("increase X"
 * counts only moves up of X; "switch X to v" only moves to v).
 */
export const withEvidence = (directions: ReadonlyArray<Direction>, observations: ReadonlyArray<ProxyObservation>, files: ReadonlyMap<string, string>, budgetSeconds: number, context?: TunableContext): Array<Direction> => {
  const tunables = findTunables(files, context)
  const byName = new Map(tunables.map((t) => [t.name, t]))
  return directions.map((direction) => {
    const exact = explicitAssignments(direction.text, tunables)
    const matching = exact
      ? observations.filter((o) => o.changes.length > 0 && moveKey(o.changes) === moveKey(exact))
      : observations.filter((o) => {
          if (o.changes.length !== 1 || !direction.constants.includes(o.changes[0]!.name)) return false
          const tunable = byName.get(o.changes[0]!.name)
          const prefers = tunable ? directionPreference(direction.text, tunable) : undefined
          return prefers === undefined || prefers(o.changes[0]!.to)
        })
    return { text: direction.text, constants: direction.constants, evidence: summarize(matching, budgetSeconds) }
  })
}

const describeMove = (changes: ReadonlyArray<Assignment>) => changes.map((c) => `${c.name} ${c.from} → ${c.to}`).join(" with ")

/** A `set` line for a move (values as the source writes them). */
export const setLine = (changes: ReadonlyArray<Pick<Assignment, "name" | "to">>) => `set ${changes.map((c) => `${c.name}=${c.to}`).join(", ")}`

/**
 * The offline reflector's directions, from every proxy run so far (all measured from the base files):
 *  - first the best measured move, then the next untried moves the move engine ranks highest (they are
 *    what the next candidate's scenarios measure), then the other moves that helped, best first;
 *  - then every tunable not yet moved, typical levers first, and last the ones measured as neither help
 *    nor harm;
 *  - a tunable is never dropped: proxy evidence is measured at another budget than the inner stage's.
 * `noise` is the relative change below which a result counts as neither help nor harm; `slots` is how many
 * directions the scenarios measure.
 */
export const reflectDirectionsOffline = (files: ReadonlyMap<string, string>, observations: ReadonlyArray<ProxyObservation>, noise: number, slots: number, rng: Rng, context?: TunableContext): string => {
  const tunables = findTunables(files, context)
  const evidence = evidenceByMove(observations)
  const proven = evidence.filter((e) => e.changes.length > 0 && e.meanDelta !== null && e.meanDelta > noise)
  const explore = rankProposals({ files, directions: [], history: proxyHistory(files, observations), pending: [], rng, noise, ...(context ? { context } : {}) }).slice(0, Math.max(1, slots - (proven.length > 0 ? 1 : 0)))
  const lines: Array<string> = []
  const used = new Set<string>()
  const push = (key: string, line: string) => {
    if (used.has(key)) return
    used.add(key)
    lines.push(line)
  }
  // The first `slots` lines are what the next candidate's scenarios measure (line k on scenario k): the best
  // move goes on a scenario it already ran on (its result is reused, nothing runs), the untried ones fill
  // the other slots.
  const best = proven[0]
  const exploring = explore.map((proposal) => ({ key: moveKey(proposal.move.changes), line: `${setLine(proposal.move.changes)} (untried: ${proposal.edit.rationale.replace(/^offline proposer: /, "")})` }))
  const bestSlot = best ? observations.filter((o) => observationKey(o) === best.key).map((o) => Number(/\d+$/.exec(o.scenario)?.[0] ?? NaN)).find((index) => index < slots) : undefined
  for (let slot = 0; slot < slots; slot++) {
    if (best && (slot === (bestSlot ?? 0) || exploring.length === 0)) push(best.key, `${setLine(best.changes)} (${describeMove(best.changes)} helped)`)
    else {
      const next = exploring.shift()
      if (next) push(next.key, next.line)
    }
  }
  if (best) push(best.key, `${setLine(best.changes)} (${describeMove(best.changes)} helped)`)
  for (const next of exploring) push(next.key, next.line)
  for (const e of proven.slice(1)) push(e.key, `${setLine(e.changes)} (${describeMove(e.changes)} helped)`)
  const moved = new Set(observations.flatMap((o) => o.changes.map((c) => c.name)))
  const neutral = new Set(evidence.filter((e) => e.changes.length === 1 && e.meanDelta !== null && Math.abs(e.meanDelta) <= noise).map((e) => e.changes[0]!.name))
  for (const tunable of byPrior(tunables).filter((t) => !moved.has(t.name))) push(`tune:${tunable.name}`, tuneLine(tunable))
  for (const tunable of byPrior(tunables).filter((t) => moved.has(t.name) && !proven.some((e) => e.changes.some((c) => c.name === t.name)))) {
    push(`tune:${tunable.name}`, `revisit ${tunable.name}: ${neutral.has(tunable.name) ? "its moves so far changed little" : "its moves so far did not help"} (now ${tunable.value.text})`)
  }
  return lines.length === 0 ? "1. no tunable found; try a different kind of change (structure, schedule, regularization)" : lines.map((line, i) => `${i + 1}. ${line}`).join("\n")
}

const lessonsHeader = "## Lessons from proxy runs (offline reflector)"

/** The instructions with their lessons section replaced by what the evidence says (bounded length). */
export const reflectInstructionsOffline = (instructions: string, observations: ReadonlyArray<ProxyObservation>, noise: number): string => {
  const base = instructions.split(lessonsHeader)[0]!.trimEnd()
  const evidence = evidenceByMove(observations).filter((e) => e.changes.length > 0)
  const helped = evidence.filter((e) => e.meanDelta !== null && e.meanDelta > noise).slice(0, 5)
  const hurt = evidence.filter((e) => e.meanDelta !== null && e.meanDelta < -noise).reverse().slice(0, 4)
  const crashed = evidence.filter((e) => e.crashes > 0).slice(0, 3)
  const lessons = [
    ...helped.map((e) => `- ${describeMove(e.changes)} helped (${signed(e.meanDelta!)} on average at the proxy budget); build on it.`),
    ...hurt.map((e) => `- ${describeMove(e.changes)} hurt (${signed(e.meanDelta!)}); do not repeat it.`),
    ...crashed.map((e) => `- ${describeMove(e.changes)} crashed ${e.crashes} time${e.crashes === 1 ? "" : "s"}; a switch that crashes may need its learning rate rescaled.`),
  ]
  return lessons.length === 0 ? base : `${base}\n\n${lessonsHeader}\n\n${lessons.join("\n")}`
}

/**
 * Every measured proxy edit for the handoff, strongest first: its proxy Δ over the scenarios it ran on, and
 * the noise it is judged against, so the inner stage can re-validate the strongest at its own budget.
 */
export const handedEdits = (observations: ReadonlyArray<ProxyObservation>, noise: number, budgetSeconds: number): Array<HandedEdit> =>
  evidenceByMove(observations).map((e) => ({
    description: e.changes.length > 0 ? e.changes.map((c) => `${c.name} ${c.from} -> ${c.to}`).join(", ") : e.edit.description,
    assignments: e.changes.map((c) => ({ name: c.name, from: c.from, to: c.to })),
    edit: e.edit,
    proxyDelta: e.meanDelta,
    tries: e.tries,
    crashes: e.crashes,
    proxyNoise: noise,
    budgetSeconds,
    proposer: e.proposer,
  }))
