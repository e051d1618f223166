/**
 * Proposing new component texts for one iteration: by the reflection LLM (one call per component, the
 * reply parsed with `extractInstruction`), by the adapter's custom proposer, or by its offline reflector
 * (when the reflection model is `offline`). Every reply is stored the moment it exists and reused when the
 * iteration is replayed, so a replay neither pays twice nor sees a different reply.
 */
import { Effect, Exit } from "effect"
import { ConfigError, type LlmError } from "../../src/domain/errors.ts"
import { makeRng } from "../../src/common/rng.ts"
import { Llm } from "../../src/services/Llm.ts"
import { type PromptTemplate, Prompts } from "../../src/services/Prompts.ts"
import type { GepaAdapter, GepaExample, NewTexts, ReflectiveDataset } from "./adapter.ts"
import { type Components, componentText } from "./candidate.ts"
import { liftEffect } from "./evaluator.ts"
import { extractInstruction } from "./extractInstruction.ts"
import { buildReflectionPrompt, defaultReflectionTemplate, templateProblem } from "./reflectionPrompt.ts"
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

  const askModel = (prompt: string, template: PromptTemplate, component: string, iteration: number) =>
    Effect.gen(function* () {
      const llm = yield* Llm
      return yield* llm
        .generateText({ purpose: "gepa.reflection", model: settings.model, prompt, templateHash: template.hash, runId: settings.runId, stageId: settings.stageId })
        .pipe(
          Effect.map((result): StoredReflection => ({ iteration, component, prompt, output: result.text, offline: false, costUsd: result.costUsd ?? 0, llmCallId: result.callId })),
          Effect.catchTag("LlmError", (error: LlmError) =>
            error.reason === "empty"
              ? Effect.succeed<StoredReflection>({ iteration, component, prompt, output: "", offline: false, costUsd: 0, llmCallId: null })
              : Effect.fail(error),
          ),
        )
    }).pipe(Effect.onExit((exit) => (Exit.isSuccess(exit) ? port.recordReflection(exit.value) : Effect.void)))

  const judge = (texts: Record<string, string>, rejections: Array<{ component: string; reason: string }>, parent: Components, name: string, text: string | undefined) => {
    if (text === undefined) rejections.push({ component: name, reason: "the reflection reply opens a ``` fence it never closes (truncated reply)" })
    else if (text.trim().length === 0) rejections.push({ component: name, reason: "the proposal is empty" })
    else if (text === componentText(parent, name)) rejections.push({ component: name, reason: "the proposal repeats the current text" })
    else texts[name] = text
  }

  const withLlm = (parent: Components, dataset: ReflectiveDataset, names: ReadonlyArray<string>, iteration: number) =>
    Effect.gen(function* () {
      const stored = new Map((yield* port.reflections(iteration)).map((reflection) => [reflection.component, reflection]))
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
        const reply =
          stored.get(name) ?? (yield* askModel(buildReflectionPrompt(template.text, componentText(parent, name) ?? "", dataset[name] ?? []), template, name, iteration))
        costUsd += reply.costUsd
        prompts.push([name, reply.prompt])
        outputs.push([name, reply.output])
        judge(texts, rejections, parent, name, extractInstruction(reply.output))
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
