/**
 * Proposing new component texts for one iteration: by the reflection LLM (one call per component with
 * reflective records, the reply parsed with `extractInstruction`; a reply with no usable instruction gets
 * one corrective retry, and when that fails too the component keeps the parent's text, with a warning), by
 * the adapter's custom proposer, or by its offline reflector (when the reflection model is `offline`).
 * Every reply, a retry's included, is stored the moment it exists and reused when the iteration is
 * replayed, so a replay neither pays twice nor sees a different reply.
 */
import { Effect, Exit, Option } from "effect"
import { ConfigError, type LlmError } from "../../src/domain/errors.ts"
import { makeRng } from "../../src/common/rng.ts"
import type { Llm } from "../../src/services/Llm.ts"
import { Progress } from "../../src/services/Progress.ts"
import { type PromptTemplate, Prompts } from "../../src/services/Prompts.ts"
import type { GepaAdapter, GepaExample, NewTexts, ReflectiveDataset } from "./adapter.ts"
import { type Components, componentText } from "./candidate.ts"
import { liftEffect } from "./evaluator.ts"
import { extractInstruction } from "./extractInstruction.ts"
import { buildReflectionPrompt, defaultReflectionTemplate, templateProblem } from "./reflectionPrompt.ts"
import { asClause, askOnce, correctionPrompt, type Judged, judgeReply, type Reply } from "./replyFormat.ts"
import type { GepaStatePort, StoredReflection } from "./statePort.ts"

export type ReflectionMode = "llm" | "custom" | "offline"

export interface ProposedTexts {
  /** Components with a usable new text. */
  readonly texts: NewTexts
  readonly rejections: ReadonlyArray<{ readonly component: string; readonly reason: string }>
  readonly prompt: string | null
  readonly output: string | null
  /** USD of the replies used (replayed ones included: the checkpoint predates them). */
  readonly costUsd: number
  readonly offline: boolean
}

export type ReflectionTemplateOption = string | Readonly<Record<string, string>>

const reflectionFormat = "Reply with the complete new instructions inside a single ``` block."

/** The instruction in a reflection reply, or the problem that keeps it from being one. */
const instructionIn = (text: string): Judged<string> => {
  const instruction = extractInstruction(text)
  if (instruction === undefined) return { ok: false, problem: "It opens a ``` block it never closes, so it looks cut off." }
  if (instruction.length === 0) return { ok: false, problem: "It holds no instructions: it was empty, or only a ``` fence." }
  return { ok: true, value: instruction }
}

/** A reflection reply as stored, and why the Llm service refused it (replayed replies: never known). */
interface StoredReply {
  readonly stored: StoredReflection
  readonly refused: string | undefined
}

/** Where the corrective retry of a component's reflection is stored (next to the first reply). */
const retryKey = (component: string) => `${component} (format retry)`


/** The template of each component; fails with ConfigError for a missing file or placeholder. */
export const loadReflectionTemplates = (option: ReflectionTemplateOption | undefined, names: ReadonlyArray<string>, baseDir?: string) =>
  Effect.gen(function* () {
    const prompts = yield* Prompts
    const perComponent: Readonly<Record<string, string>> = typeof option === "object" ? option : {}
    const unknown = Object.keys(perComponent).find((name) => !names.includes(name))
    if (unknown !== undefined)
      return yield* new ConfigError({ message: `gepa: reflectionTemplate.${unknown}: not a component of the seed candidate (${names.join(", ")})` })
    const fallback = typeof option === "string" ? option : defaultReflectionTemplate
    const loaded = new Map<string, PromptTemplate>()
    const byComponent = new Map<string, PromptTemplate>()
    for (const name of names) {
      const templateName = perComponent[name] ?? fallback
      let template = loaded.get(templateName)
      if (template === undefined) {
        template = yield* prompts.load(templateName, baseDir)
        const problem = templateProblem(template.text)
        if (problem !== undefined) return yield* new ConfigError({ message: `gepa: reflection template ${template.file} ${problem}` })
        loaded.set(templateName, template)
      }
      byComponent.set(name, template)
    }
    return byComponent
  })

const joinPerComponent = (entries: ReadonlyArray<readonly [string, string]>): string | null =>
  entries.length === 0 ? null : entries.length === 1 ? entries[0]![1] : entries.map(([name, text]) => `--- ${name} ---\n${text}`).join("\n\n")

/** A generator for proposers, seeded from the run seed and the iteration (independent of the main RNG). */
export const proposerRandom = (seed: number, iteration: number): (() => number) =>
  makeRng((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(iteration + 1, 0x85ebca6b)) >>> 0).next

export interface ReflectorSettings<Example extends GepaExample, E, R> {
  readonly mode: ReflectionMode
  readonly adapter: GepaAdapter<Example, E, R>
  readonly port: GepaStatePort
  readonly model: string
  readonly templates: ReadonlyMap<string, PromptTemplate>
  /** The corrective note of a retry (`reply-correction`). */
  readonly correction: PromptTemplate
  readonly seed: number
  readonly runId: string | null
  readonly stageId: number | null
}

/** Proposes new texts for the components of one iteration; a replayed iteration reuses the stored replies. */
export interface Reflector<E, R> {
  readonly mode: ReflectionMode
  readonly propose: (
    parent: Components,
    dataset: ReflectiveDataset,
    names: ReadonlyArray<string>,
    iteration: number,
  ) => Effect.Effect<ProposedTexts, LlmError | E, R | Llm>
}

export const makeReflector = <Example extends GepaExample, E, R>(settings: ReflectorSettings<Example, E, R>): Reflector<E, R> => {
  const { port } = settings
  const offline = settings.mode === "offline"

  /** One reflection call, stored as it arrives (an empty or over-long reply is stored as ""). */
  const askModel = (prompt: string, templateHash: string, component: string, iteration: number) =>
    askOnce({ purpose: "gepa.reflection", model: settings.model, prompt, templateHash, runId: settings.runId, stageId: settings.stageId }).pipe(
      Effect.map((reply): StoredReply => ({
        stored: { iteration, component, prompt, output: reply.text, offline: false, costUsd: reply.costUsd, llmCallId: reply.callId },
        refused: reply.refused,
      })),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? port.recordReflection(exit.value.stored) : Effect.void)),
    )

  const judge = (texts: Record<string, string>, rejections: Array<{ component: string; reason: string }>, parent: Components, name: string, text: string | undefined) => {
    if (text === undefined) rejections.push({ component: name, reason: "the reflection reply opens a ``` fence it never closes (truncated reply)" })
    else if (text.trim().length === 0) rejections.push({ component: name, reason: "the proposal is empty" })
    else if (text === componentText(parent, name)) rejections.push({ component: name, reason: "the proposal repeats the current text" })
    else texts[name] = text
  }

  const warn = (iteration: number, name: string, problems: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const progress = yield* Effect.serviceOption(Progress)
      if (settings.runId === null || Option.isNone(progress)) return
      yield* progress.value.emit({
        runId: settings.runId,
        stageId: settings.stageId,
        kind: "llm-reply-fallback",
        message: `gepa iteration ${iteration}: the reflection reply for ${name} was unusable twice (${problems.map(asClause).join("; then ")}); keeping the parent's text`,
        data: { purpose: "gepa.reflection", iteration, component: name, problems },
      })
    })

  const withLlm = (parent: Components, dataset: ReflectiveDataset, names: ReadonlyArray<string>, iteration: number) =>
    Effect.gen(function* () {
      const stored = new Map((yield* port.reflections(iteration)).map((reflection) => [reflection.component, reflection]))
      /** The stored reply of `component`, or a new one (asked with `prompt`). */
      const reply = (prompt: string, templateHash: string, component: string) => {
        const known = stored.get(component)
        return Effect.map(
          known !== undefined ? Effect.succeed<StoredReply>({ stored: known, refused: undefined }) : askModel(prompt, templateHash, component, iteration),
          ({ stored: reflection, refused }): Reply & { readonly prompt: string } => ({
            text: reflection.output,
            callId: reflection.llmCallId,
            costUsd: reflection.costUsd,
            refused,
            prompt: reflection.prompt,
          }),
        )
      }
      const texts: Record<string, string> = {}
      const rejections: Array<{ component: string; reason: string }> = []
      const prompts: Array<readonly [string, string]> = []
      const outputs: Array<readonly [string, string]> = []
      let costUsd = 0
      for (const name of names) {
        // As in the reference: no reflection call for a component the reflective dataset has no records for.
        if ((dataset[name] ?? []).length === 0) {
          rejections.push({ component: name, reason: "the reflective dataset has no records for it (no reflection call)" })
          continue
        }
        const template = settings.templates.get(name)!
        const first = yield* reply(buildReflectionPrompt(template.text, componentText(parent, name) ?? "", dataset[name] ?? []), template.hash, name)
        costUsd += first.costUsd
        prompts.push([name, first.prompt])
        const judged = judgeReply(first, instructionIn)
        if (judged.ok) {
          outputs.push([name, first.text])
          judge(texts, rejections, parent, name, judged.value)
          continue
        }
        const second = yield* reply(correctionPrompt(settings.correction, first.prompt, judged.problem, reflectionFormat), settings.correction.hash, retryKey(name))
        costUsd += second.costUsd
        outputs.push([name, `${first.text}\n\n--- format retry (${asClause(judged.problem)}) ---\n\n${second.text}`])
        const again = judgeReply(second, instructionIn)
        if (again.ok) {
          judge(texts, rejections, parent, name, again.value)
          continue
        }
        const problems = [judged.problem, again.problem]
        rejections.push({ component: name, reason: `the reflection reply was unusable twice (${problems.map(asClause).join("; then ")}); kept the parent's text` })
        yield* warn(iteration, name, problems)
      }
      return { texts, rejections, prompt: joinPerComponent(prompts), output: joinPerComponent(outputs), costUsd, offline: false } satisfies ProposedTexts
    })

  const withAdapter = (parent: Components, dataset: ReflectiveDataset, names: ReadonlyArray<string>, iteration: number) =>
    Effect.gen(function* () {
      const propose = offline ? settings.adapter.offlineReflector : settings.adapter.proposeNewTexts
      if (propose === undefined) return yield* Effect.die(new Error(`gepa: reflection mode ${settings.mode} without a proposer`))
      const stored = new Map((yield* port.reflections(iteration)).map((reflection) => [reflection.component, reflection.output]))
      let proposed: Map<string, string>
      if (names.every((name) => stored.has(name))) proposed = stored
      else {
        const context = { iteration, random: proposerRandom(settings.seed, iteration) }
        const result = yield* Effect.suspend(() => liftEffect(propose(parent, dataset, names, context)))
        proposed = new Map(names.map((name) => [name, Object.hasOwn(result, name) ? String(result[name]) : (componentText(parent, name) ?? "")]))
        const label = offline ? "(offline reflector)" : "(custom proposer)"
        for (const name of names)
          yield* port.recordReflection({ iteration, component: name, prompt: label, output: proposed.get(name)!, offline, costUsd: 0, llmCallId: null })
      }
      const texts: Record<string, string> = {}
      const rejections: Array<{ component: string; reason: string }> = []
      for (const name of names) judge(texts, rejections, parent, name, proposed.get(name))
      const output = joinPerComponent(names.map((name) => [name, proposed.get(name)!] as const))
      return { texts, rejections, prompt: null, output, costUsd: 0, offline } satisfies ProposedTexts
    })

  return {
    mode: settings.mode,
    propose: (parent, dataset, names, iteration) =>
      settings.mode === "llm" ? withLlm(parent, dataset, names, iteration) : withAdapter(parent, dataset, names, iteration),
  }
}
