/**
 * Research directions as the outer stage evolves them: a ranked Markdown list (one component text), parsed
 * into structured directions for the inner stage, with evidence measured on proxy runs. Also the offline
 * reflector's rewrites: directions re-ranked by measured deltas (harmful ones dropped, untried constants
 * added) and lessons appended to the instructions. Pure.
 */
import type { MetricDirection } from "../../../src/config.ts"
import type { Direction, DirectionEvidence } from "../../../src/domain/Handoff.ts"
import { plainText, type Tunable } from "../../experiment-kit/tunables/index.ts"
import { directionPreference } from "../../experiment-kit/moves.ts"
import { mean } from "../../../src/common/stats.ts"

/** One proxy run's effect: which constant moved where, and the relative improvement (null: it crashed). */
export interface ProxyObservation {
  readonly name: string
  readonly from: string
  readonly to: string
  /** (baseline − metric) / |baseline| for minimize, sign flipped for maximize; null for crash/timeout/rejected. */
  readonly relativeDelta: number | null
}

export interface ConstantEvidence extends DirectionEvidence {
  readonly name: string
  /** The move with the best mean delta, and its mean. */
  readonly bestMove: { readonly to: string; readonly from: string; readonly meanDelta: number } | null
  /** The move with the worst mean delta. */
  readonly worstMove: { readonly to: string; readonly from: string; readonly meanDelta: number } | null
}

export const relativeImprovement = (direction: MetricDirection, baseline: number, metric: number) =>
  ((direction === "minimize" ? baseline - metric : metric - baseline) / Math.max(Math.abs(baseline), 1e-12))

/**
 * The score of one proxy run, in [0, 1]: 0.5 + r / (2·range), clipped, where r is the relative
 * improvement over the scenario's baseline (so no change scores 0.5, an improvement of `range` or more
 * scores 1, a regression of `range` or more scores 0). A run that crashed, timed out or was rejected
 * scores 0.
 */
export const proxyScore = (relativeDelta: number | null, range: number): number =>
  relativeDelta === null ? 0 : Math.min(1, Math.max(0, 0.5 + relativeDelta / (2 * range)))

export const evidenceByConstant = (observations: ReadonlyArray<ProxyObservation>): Map<string, ConstantEvidence> => {
  const byName = new Map<string, Array<ProxyObservation>>()
  for (const observation of observations) byName.set(observation.name, [...(byName.get(observation.name) ?? []), observation])
  const out = new Map<string, ConstantEvidence>()
  for (const [name, list] of byName) {
    const measured = list.filter((o) => o.relativeDelta !== null)
    const byMove = new Map<string, Array<ProxyObservation>>()
    for (const o of measured) byMove.set(`${o.from}\u0000${o.to}`, [...(byMove.get(`${o.from}\u0000${o.to}`) ?? []), o])
    const moves = [...byMove.values()].map((group) => ({ from: group[0]!.from, to: group[0]!.to, meanDelta: mean(group.map((o) => o.relativeDelta!)) }))
    moves.sort((a, b) => b.meanDelta - a.meanDelta)
    out.set(name, {
      name,
      tries: list.length,
      meanDelta: measured.length > 0 ? mean(measured.map((o) => o.relativeDelta!)) : null,
      crashes: list.length - measured.length,
      bestMove: moves[0] ?? null,
      worstMove: moves.at(-1) ?? null,
    })
  }
  return out
}

const signed = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}%`

export const evidenceText = (evidence: DirectionEvidence) =>
  `(proxy evidence: ${evidence.tries} tr${evidence.tries === 1 ? "y" : "ies"}, mean Δ ${evidence.meanDelta === null ? "n/a" : signed(evidence.meanDelta)}, ${evidence.crashes} crash${evidence.crashes === 1 ? "" : "es"})`

/**
 * A generic prior over typical levers, most influential first (the order prompts/agent.md lists them):
 * learning rate, optimizer, schedule, width, depth, context, batch size, initialisation, regularisation.
 */
const priorLevers: ReadonlyArray<RegExp> = [
  /(^|_)(LR|LEARNING_RATE)($|_)/,
  /OPTIM|MOMENTUM|BETA/,
  /SCHEDULE|WARMUP|DECAY_STEPS/,
  /HIDDEN|WIDTH|EMBD|EMBED|DIM|CHANNELS/,
  /LAYER|DEPTH|HEADS?($|_)/,
  /CONTEXT|BLOCK|SEQ/,
  /BATCH/,
  /INIT/,
  /WEIGHT_DECAY|DROPOUT|CLIP|REG/,
]

const priorRank = (name: string) => {
  const index = priorLevers.findIndex((pattern) => pattern.test(name.toUpperCase()))
  return index === -1 ? priorLevers.length : index
}

/** The seed directions when no LLM writes them: every tunable constant, typical levers first. */
export const seedDirectionsText = (constants: ReadonlyArray<Tunable>): string =>
  [...constants]
    .map((constant, order) => ({ constant, order }))
    .sort((a, b) => priorRank(a.constant.name) - priorRank(b.constant.name) || a.order - b.order)
    .map(({ constant }) => constant)
    .map((c, i) => {
      const options = c.value.kind === "string" && c.alternatives.length > 0 ? ` (alternatives: ${c.alternatives.join(", ")})` : ""
      return `${i + 1}. tune ${c.name} (now ${c.value.text})${options}`
    })
    .join("\n")

const evidencePattern = /\(proxy evidence: (\d+) tr(?:y|ies), mean Δ (n\/a|[-+]?[\d.]+%), (\d+) crash(?:es)?\)/

/** Parses a ranked list (numbered or bulleted lines; other lines ignored) into directions. */
export const parseDirections = (text: string, knownConstants: ReadonlyArray<string>): Array<Direction> => {
  const out: Array<Direction> = []
  for (const line of text.split("\n")) {
    const match = /^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$/.exec(line)
    if (!match) continue
    const body = match[1]!
    const constants = knownConstants.filter((name) => new RegExp(`\\b${name}\\b`).test(body))
    const evidence = evidencePattern.exec(body)
    out.push({
      text: body.replace(evidencePattern, "").trim(),
      constants,
      ...(evidence
        ? { evidence: { tries: Number(evidence[1]), meanDelta: evidence[2] === "n/a" ? null : Number(evidence[2]!.replace("%", "")) / 100, crashes: Number(evidence[3]) } }
        : {}),
    })
  }
  return out
}

export const renderDirections = (directions: ReadonlyArray<Direction>): string =>
  directions.map((d, i) => `${i + 1}. ${d.text}${d.evidence ? ` ${evidenceText(d.evidence)}` : ""}`).join("\n")

const moveMatches = (constant: Tunable | undefined, text: string, observation: ProxyObservation) => {
  if (!constant) return true
  const prefers = directionPreference(text, constant)
  return prefers === undefined ? true : prefers(observation.to)
}

const summarize = (list: ReadonlyArray<ProxyObservation>): DirectionEvidence => {
  const measured = list.filter((o) => o.relativeDelta !== null)
  return { tries: list.length, meanDelta: measured.length > 0 ? mean(measured.map((o) => o.relativeDelta!)) : null, crashes: list.length - measured.length }
}

/**
 * Gives each direction the evidence of the proxy runs it speaks for: the moves of the constants it names
 * that agree with its wording ("increase X" counts only moves up of X; "switch X to v" only moves to v).
 */
export const withEvidence = (directions: ReadonlyArray<Direction>, observations: ReadonlyArray<ProxyObservation>, constants: ReadonlyArray<Tunable>): Array<Direction> => {
  const byName = new Map(constants.map((c) => [c.name, c]))
  return directions.map((direction) => ({
    text: direction.text,
    constants: direction.constants,
    evidence: summarize(observations.filter((o) => direction.constants.includes(o.name) && moveMatches(byName.get(o.name), direction.text, o))),
  }))
}

interface MoveGroup {
  readonly to: string
  readonly from: string
  readonly meanDelta: number | null
  readonly tries: number
}

const groupMoves = (observations: ReadonlyArray<ProxyObservation>, name: string): Array<MoveGroup> => {
  const groups = new Map<string, Array<ProxyObservation>>()
  for (const o of observations.filter((o) => o.name === name)) groups.set(`${o.from}\u0000${o.to}`, [...(groups.get(`${o.from}\u0000${o.to}`) ?? []), o])
  return [...groups.values()].map((list) => ({ from: list[0]!.from, to: list[0]!.to, tries: list.length, meanDelta: summarize(list).meanDelta }))
}

/**
 * The offline reflector's directions, from every proxy run so far:
 *  - a constant with a move that helped becomes "increase/decrease X" or "switch X to v", best first;
 *  - a number whose moves one way hurt and the other way are untried becomes a direction the other way;
 *  - untried constants follow (file order), then constants whose moves changed little;
 *  - a constant is dropped only when every way of moving it hurt or crashed.
 * `noise` is the relative change below which a result counts as neither help nor harm.
 */
export const reflectDirectionsOffline = (constants: ReadonlyArray<Tunable>, observations: ReadonlyArray<ProxyObservation>, noise: number): string => {
  const helped: Array<{ line: string; score: number }> = []
  const informed: Array<string> = []
  const untried: Array<string> = []
  const neutral: Array<string> = []
  for (const constant of constants) {
    const moves = groupMoves(observations, constant.name)
    if (moves.length === 0) {
      untried.push(`try ${constant.name} (untried; now ${constant.value.text})`)
      continue
    }
    const score = (m: MoveGroup) => m.meanDelta ?? -Infinity
    const best = [...moves].sort((a, b) => score(b) - score(a))[0]!
    const evidence = evidenceText(summarize(observations.filter((o) => o.name === constant.name && o.to === best.to && o.from === best.from)))
    if (score(best) > noise) {
      const line =
        constant.value.kind === "number"
          ? `${Number(best.to) > Number(best.from) ? "increase" : "decrease"} ${constant.name} (${best.from} → ${best.to} helped) ${evidence}`
          : `switch ${constant.name} to ${plainText(best.to)} (${best.from} → ${best.to} helped) ${evidence}`
      helped.push({ line, score: score(best) })
      continue
    }
    if (constant.value.kind === "number") {
      const up = moves.filter((m) => Number(m.to) > Number(m.from))
      const down = moves.filter((m) => Number(m.to) < Number(m.from))
      const hurt = (list: Array<MoveGroup>) => list.length > 0 && list.every((m) => score(m) < -noise)
      if (hurt(up) && down.length === 0) informed.push(`decrease ${constant.name} (increasing it hurt; now ${constant.value.text})`)
      else if (hurt(down) && up.length === 0) informed.push(`increase ${constant.name} (decreasing it hurt; now ${constant.value.text})`)
      else if (!(hurt(up) && hurt(down))) neutral.push(`revisit ${constant.name}: moves so far changed little (now ${constant.value.text})`)
      continue
    }
    const tried = new Set(moves.map((m) => plainText(m.to)))
    const left = constant.value.kind === "string" ? constant.alternatives.filter((a) => !tried.has(a)) : []
    if (left.length > 0) informed.push(`switch ${constant.name} to ${left[0]} (other values hurt; untried)`)
    else if (moves.some((m) => score(m) >= -noise)) neutral.push(`revisit ${constant.name}: its values changed little`)
  }
  helped.sort((a, b) => b.score - a.score)
  // Keep exploring: the top three (what the proxy scenarios measure) hold at most two proven directions
  // and at least one that has not been measured yet, while any is left.
  const exploring = [...informed, ...untried]
  const proven = helped.map((h) => h.line)
  const head = exploring.length > 0 ? [...proven.slice(0, 2), exploring[0]!] : proven.slice(0, 3)
  const lines = [...head, ...proven.slice(head.length - (exploring.length > 0 ? 1 : 0)).filter((line) => !head.includes(line)), ...exploring.filter((line) => !head.includes(line)), ...neutral]
  return lines.length === 0 ? "1. no direction has helped yet; try a different kind of change (structure, schedule, regularization)" : lines.map((line, i) => `${i + 1}. ${line}`).join("\n")
}

const lessonsHeader = "## Lessons from proxy runs (offline reflector)"

/** The instructions with their lessons section replaced by what the evidence says (bounded length). */
export const reflectInstructionsOffline = (instructions: string, evidence: ReadonlyMap<string, ConstantEvidence>, noise: number): string => {
  const base = instructions.split(lessonsHeader)[0]!.trimEnd()
  const items = [...evidence.values()]
  const helped = items.filter((e) => e.bestMove && e.bestMove.meanDelta > noise).sort((a, b) => b.bestMove!.meanDelta - a.bestMove!.meanDelta).slice(0, 5)
  const hurt = items.filter((e) => e.worstMove && e.worstMove.meanDelta < -noise).sort((a, b) => a.worstMove!.meanDelta - b.worstMove!.meanDelta).slice(0, 4)
  const crashed = items.filter((e) => e.crashes > 0).slice(0, 3)
  const lessons = [
    ...helped.map((e) => `- ${e.name} ${e.bestMove!.from} → ${e.bestMove!.to} helped (${signed(e.bestMove!.meanDelta)} on average); push further in that direction.`),
    ...hurt.map((e) => `- ${e.name} ${e.worstMove!.from} → ${e.worstMove!.to} hurt (${signed(e.worstMove!.meanDelta)}); do not repeat it.`),
    ...crashed.map((e) => `- changes to ${e.name} crashed ${e.crashes} time${e.crashes === 1 ? "" : "s"}; check the value range before trying again.`),
  ]
  return lessons.length === 0 ? base : `${base}\n\n${lessonsHeader}\n\n${lessons.join("\n")}`
}
