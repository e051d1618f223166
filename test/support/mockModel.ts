/** AI SDK mock language models for unit tests: scripted text replies, each call recorded by the mock. */
import type { LanguageModelV3GenerateResult } from "@ai-sdk/provider"
import { MockLanguageModelV3 } from "ai/test"

export const textResult = (text: string, inputTokens = 100, outputTokens = 50): LanguageModelV3GenerateResult => ({
  content: [{ type: "text", text }],
  finishReason: { unified: "stop", raw: "stop" },
  usage: {
    inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: outputTokens, text: outputTokens, reasoning: undefined },
  },
  warnings: [],
})

/** A mock model that answers calls with `replies` in order (a function reply sees the call's prompt text). */
export const scriptedModel = (replies: ReadonlyArray<string | ((prompt: string) => string)>) => {
  let next = 0
  return new MockLanguageModelV3({
    doGenerate: async (options) => {
      const reply = replies[Math.min(next, replies.length - 1)]
      next += 1
      const prompt = options.prompt
        .flatMap((message) => (typeof message.content === "string" ? [message.content] : message.content.map((part) => ("text" in part ? part.text : ""))))
        .join("\n")
      return textResult(typeof reply === "function" ? reply(prompt) : (reply ?? ""))
    },
  })
}
