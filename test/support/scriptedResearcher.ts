/**
 * A deterministic stand-in for a research LLM behind the local OpenAI server (either API): its replies are
 * scripted but realistic — they read the prompt (the editable file, the feedback, the recent experiments)
 * and answer like a model would, so the same prompt always gets the same answer.
 */
import { promptOf, type RecordedRequest, structuredFormatOf } from "./openaiServer.ts"

export const lastMessage = promptOf

/** Proposes the next untried move among a fixed preference list, reading the current values from the prompt. */
const proposeEdit = (prompt: string) => {
  const moves: Array<[RegExp, (match: RegExpExecArray) => string, string]> = [
    [/const OPTIMIZER = "sgd"/, () => 'const OPTIMIZER = "adam"', "switch to adam"],
    [/const USE_NORM = false/, () => "const USE_NORM = true", "add normalisation"],
    [/const LEARNING_RATE = ([\d.]+)/, (m) => `const LEARNING_RATE = ${Number(m[1]) * 2}`, "double the learning rate"],
    [/const WIDTH = (\d+)/, (m) => `const WIDTH = ${Number(m[1]) * 2}`, "double the width"],
  ]
  const files = prompt.split("# Editable files")[1] ?? prompt
  const tried = prompt.split("# Recent experiments")[1] ?? ""
  for (const [pattern, replacement, description] of moves) {
    const match = pattern.exec(files)
    if (!match || tried.includes(description)) continue
    return JSON.stringify({
      direction: description.split(" ").slice(-1)[0],
      rationale: `${description}: the proxy feedback suggests it helps`,
      description,
      changes: [{ path: "train.mjs", kind: "replace", search: match[0], replace: replacement(match) }],
    })
  }
  return JSON.stringify({ direction: "width", rationale: "wider", description: "halve the width", changes: [{ path: "train.mjs", kind: "replace", search: "const WIDTH = 16", replace: "const WIDTH = 8" }] })
}

/** Answers every request the pipeline makes (seed directions, reflection, agent edits) from its prompt. */
export const scriptedResearcher = (request: RecordedRequest) => {
  const prompt = lastMessage(request)
  if (prompt.includes("Write a ranked list of 5 to 8 research directions"))
    return "1. switch OPTIMIZER to adam\n2. increase LEARNING_RATE\n3. enable USE_NORM\n4. increase WIDTH"
  if (prompt.includes("An assistant was given the following instructions")) {
    const current = /```\n([\s\S]*?)\n```/.exec(prompt)?.[1] ?? ""
    const learned = prompt.includes("better") ? "Changes that improved the loss on proxy runs should be pushed further." : "Prefer optimizer changes first."
    return `Here are the improved instructions:\n\`\`\`\n${current}\n${learned}\n\`\`\``
  }
  if (structuredFormatOf(request) !== undefined) return proposeEdit(prompt)
  return "ok"
}

