/**
 * The reflection meta-prompt: a template with exactly two placeholders — `{{current_instruction}}` (the
 * component's current text) and `{{examples}}` (the rendered reflective dataset). Pure.
 */
import { renderTemplate } from "../../src/services/Prompts.ts"
import type { ReflectiveRecord } from "./adapter.ts"
import { renderReflectiveDataset } from "./renderReflectiveDataset.ts"

export const defaultReflectionTemplate = "gepa-reflection"

export const reflectionPlaceholders = ["current_instruction", "examples"] as const

const placeholderPattern = (name: string) => new RegExp(`\\{\\{\\s*${name}\\s*\\}\\}`)

/** What is wrong with a reflection template (a missing placeholder), or undefined when it is usable. */
export const templateProblem = (text: string): string | undefined => {
  const missing = reflectionPlaceholders.filter((name) => !placeholderPattern(name).test(text))
  return missing.length === 0 ? undefined : `is missing the placeholder${missing.length > 1 ? "s" : ""} ${missing.map((name) => `{{${name}}}`).join(" and ")}`
}

export const buildReflectionPrompt = (template: string, currentText: string, records: ReadonlyArray<ReflectiveRecord>): string =>
  renderTemplate(template, { current_instruction: currentText, examples: renderReflectiveDataset(records) })
