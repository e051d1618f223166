/**
 * A simulated task model and reflection model for the arithmetic dataset: the task model does arithmetic
 * but applies a unit (score, gross, fortnight, ...) only once the system prompt states it; the reflection
 * model folds the unit facts named in the feedback into the instruction, as a good reflection LM would.
 */
import type { PromptExample } from "../../../stages/gepa/index.ts"

const unitFacts: ReadonlyArray<readonly [string, string]> = [
  ["baker's dozen", "1 baker's dozen = 13"],
  ["dozen", "1 dozen = 12"],
  ["score", "1 score = 20"],
  ["gross", "1 gross = 144"],
  ["fortnight", "1 fortnight = 14 days"],
  ["week", "1 week = 7 days"],
]

export const simulatedTaskReply = (examples: ReadonlyArray<PromptExample>) => {
  const byInput = new Map(examples.map((example) => [example.input, example]))
  return (system: string, question: string): string => {
    const example = byInput.get(question.trim())
    if (example === undefined) return "I am not sure."
    const unit = unitFacts.find(([name]) => question.includes(` ${name}`))
    const knows = unit === undefined || system.includes(unit[1])
    return knows ? `Let me work it out. The answer is ${example.answer}.` : `Let me work it out. The answer is ${Number(example.answer) + 1}.`
  }
}

/** The text inside the first fenced block of a reflection prompt (the current instruction). */
export const currentInstruction = (prompt: string): string => {
  const start = prompt.indexOf("```\n") + 4
  return prompt.slice(start, prompt.indexOf("\n```", start))
}

export const simulatedReflectionReply = (prompt: string): string => {
  const current = currentInstruction(prompt)
  const facts = [...new Set(prompt.match(/1 (?:baker's )?[a-z]+ = \d+(?: days)?/g) ?? [])].filter((fact) => !current.includes(fact))
  const improved = facts.length === 0 ? `${current}\nDouble-check the arithmetic.` : `${current}\nUnit facts: ${facts.join("; ")}.`
  return `Looking at the feedback, the assistant does not know some units. Here is an improved instruction:\n\n\`\`\`\n${improved}\n\`\`\`\n\nThis adds the unit conversions.`
}
