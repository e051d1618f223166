/**
 * The plain prompt-optimization adapter: one text component (the system prompt, `system_prompt` by
 * default) for a task model called through the Llm service (purpose `gepa.task`), over JSONL examples
 * with an answer. A metric turns each reply into a score and feedback naming the correct answer (and the
 * example's explanation, when it has one). A failed task-model call scores 0; it never fails the batch.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigError, type LlmError } from "../../../src/domain/errors.ts"
import { Llm, type LlmShape } from "../../../src/services/Llm.ts"
import type { EvaluatedExample, GepaAdapter, GepaExample, NewTexts, ReflectiveDataset } from "../adapter.ts"
import { type Components, componentText } from "../candidate.ts"

export interface PromptExample extends GepaExample {
  readonly input: string
  readonly answer: string
  /** Why the answer is right; shown in the feedback of a wrong reply. */
  readonly explanation?: string
}

export interface MetricResult {
  readonly score: number
  readonly feedback: string
}

export type PromptMetric = (example: PromptExample, output: string) => MetricResult

export type PromptMetricName = "number" | "exact" | "contains"

export const defaultPromptComponent = "system_prompt"

/** The last number in a text (commas between digits allowed), or undefined. */
export const lastNumber = (text: string): number | undefined => {
  const matches = text.match(/-?\d[\d,]*(?:\.\d+)?/g)
  if (matches === null) return undefined
  const value = Number(matches[matches.length - 1]!.replace(/,/g, ""))
  return Number.isFinite(value) ? value : undefined
}

const explained = (example: PromptExample) => (example.explanation ? ` ${example.explanation}` : "")

const normalize = (text: string) => text.trim().toLowerCase().replace(/\s+/g, " ").replace(/[.!]+$/, "")

export const promptMetrics: Readonly<Record<PromptMetricName, PromptMetric>> = {
  number: (example, output) => {
    const expected = Number(example.answer)
    const got = lastNumber(output)
    if (got !== undefined && Math.abs(got - expected) < 1e-9) return { score: 1, feedback: `Correct: the answer is ${example.answer}.` }
    const said = got === undefined ? "no number" : `${got}`
    return { score: 0, feedback: `Incorrect: the response gives ${said}, but the correct answer is ${example.answer}.${explained(example)}` }
  },
  exact: (example, output) =>
    normalize(output) === normalize(example.answer)
      ? { score: 1, feedback: `Correct: the answer is ${example.answer}.` }
      : { score: 0, feedback: `Incorrect: the correct answer is exactly "${example.answer}".${explained(example)}` },
  contains: (example, output) =>
    normalize(output).includes(normalize(example.answer))
      ? { score: 1, feedback: `Correct: the response contains ${example.answer}.` }
      : { score: 0, feedback: `Incorrect: the response should contain "${example.answer}".${explained(example)}` },
}

export interface PromptAdapterSettings {
  /** The model the candidate system prompt is given to (`openai:<id>` or `openai-compatible:<id>@<url>`). */
  readonly taskModel: string
  readonly component?: string
  readonly metric?: PromptMetricName | PromptMetric
  readonly runId?: string | null
  readonly stageId?: number | null
}

interface PromptTrajectory {
  readonly input: string
  readonly output: string | null
  readonly feedback: string
}

const feedbackOf = (evaluation: EvaluatedExample<PromptExample>, metric: PromptMetric): string =>
  (evaluation.trajectory as PromptTrajectory | null)?.feedback ?? metric(evaluation.example, String(evaluation.output ?? "")).feedback

/** Appends what failed examples' feedback says (up to three new lessons per call); no LLM involved. */
export const promptOfflineReflector =
  (component: string) =>
  (candidate: Components, dataset: ReflectiveDataset, names: ReadonlyArray<string>): NewTexts => {
    if (!names.includes(component)) return {}
    const current = componentText(candidate, component) ?? ""
    const lessons = (dataset[component] ?? [])
      .map((record) => String(record.Feedback ?? ""))
      .filter((feedback) => feedback.startsWith("Incorrect"))
      .map((feedback) => feedback.replace(/^Incorrect:[^.]*\.\s*/, "").trim())
      .filter((lesson, index, all) => lesson.length > 0 && all.indexOf(lesson) === index && !current.includes(lesson))
      .slice(0, 3)
    if (lessons.length === 0) return {}
    const header = current.includes("\nLessons from past mistakes:") ? "" : "\n\nLessons from past mistakes:"
    return { [component]: `${current}${header}${lessons.map((lesson) => `\n- ${lesson}`).join("")}` }
  }

export const makePromptAdapter = (settings: PromptAdapterSettings): GepaAdapter<PromptExample, never, Llm> => {
  const component = settings.component ?? defaultPromptComponent
  const metric = typeof settings.metric === "function" ? settings.metric : promptMetrics[settings.metric ?? "exact"]
  const answer = (llm: LlmShape, system: string, example: PromptExample) =>
    llm
      .generateText({
        purpose: "gepa.task",
        model: settings.taskModel,
        ...(system.length > 0 ? { system } : {}),
        prompt: example.input,
        runId: settings.runId ?? null,
        stageId: settings.stageId ?? null,
      })
      .pipe(
        Effect.map((result) => {
          const judged = metric(example, result.text)
          const trajectory: PromptTrajectory = { input: example.input, output: result.text, feedback: judged.feedback }
          return { score: judged.score, output: result.text, trajectory }
        }),
        Effect.catchTag("LlmError", (error: LlmError) => {
          const trajectory: PromptTrajectory = { input: example.input, output: null, feedback: `The task model call failed (${error.message}); the correct answer is ${example.answer}.` }
          return Effect.succeed({ score: 0, output: null, trajectory })
        }),
      )
  return {
    evaluate: (batch, candidate) =>
      Effect.gen(function* () {
        const llm = yield* Llm
        const system = componentText(candidate, component) ?? ""
        return yield* Effect.forEach(batch, (example) => answer(llm, system, example))
      }),
    makeReflectiveDataset: (_candidate, evaluations, names) =>
      Object.fromEntries(
        names.map((name) => [
          name,
          evaluations.map((evaluation) => ({
            Inputs: evaluation.example.input,
            "Generated Outputs": evaluation.output === null ? "(no reply: the call failed)" : String(evaluation.output),
            Feedback: feedbackOf(evaluation, metric),
          })),
        ]),
      ),
    offlineReflector: promptOfflineReflector(component),
  }
}

/** Reads JSONL examples: each line an object with `input` and `answer` (and optional `id`, `explanation`). */
export const loadPromptExamples = (file: string): Effect.Effect<Array<PromptExample>, ConfigError> =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (error) => new ConfigError({ message: `cannot read the dataset ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }),
    })
    const examples: Array<PromptExample> = []
    const lines = text.split("\n")
    for (const [index, line] of lines.entries()) {
      if (line.trim().length === 0) continue
      const at = `${file}:${index + 1}`
      const record = yield* Effect.try({ try: () => JSON.parse(line) as unknown, catch: () => new ConfigError({ message: `${at}: not valid JSON` }) })
      if (typeof record !== "object" || record === null || Array.isArray(record)) return yield* new ConfigError({ message: `${at}: expected a JSON object` })
      const { id, input, answer, explanation } = record as Record<string, unknown>
      if (typeof input !== "string") return yield* new ConfigError({ message: `${at}: "input" must be a string` })
      if (typeof answer !== "string" && typeof answer !== "number") return yield* new ConfigError({ message: `${at}: "answer" must be a string or a number` })
      if (id !== undefined && typeof id !== "string" && typeof id !== "number") return yield* new ConfigError({ message: `${at}: "id" must be a string or a number` })
      examples.push({
        id: id === undefined ? `${path.basename(file)}:${index + 1}` : String(id),
        input,
        answer: String(answer),
        ...(typeof explanation === "string" ? { explanation } : {}),
      })
    }
    if (examples.length === 0) return yield* new ConfigError({ message: `the dataset ${file} has no examples` })
    return examples
  })
