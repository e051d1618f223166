/**
 * Plain prompt optimization with GEPA: evolve the system prompt of a task model on the generated
 * arithmetic word problems in data/arithmetic (see README.md next to this file).
 */
import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "prompt-opt",
  // The model being prompted and the model that reflects on its mistakes. Any of
  //   "openai:<model>"                                  (OPENAI_API_KEY)
  //   "openai-compatible:<model>@<base URL>"            (TWOLOOP_API_KEY, e.g. vLLM, llama.cpp, Ollama)
  model: "openai:gpt-4.1-nano",
  reflectionModel: "openai:gpt-4.1-mini",
  seed: 0,
  // The config schema requires a target even though a prompt-only pipeline never runs it; this one is a
  // placeholder that points at this directory.
  target: {
    dir: ".",
    editable: ["README.md"],
    command: "true",
    metric: { name: "accuracy", direction: "maximize" },
    timeBudgetSeconds: 1,
  },
  stages: [
    {
      kind: "gepa",
      name: "prompt",
      budget: { metricCalls: 600, costUsd: 1 },
      minibatchSize: 3,
      concurrency: 8,
      merge: { enabled: true },
      adapter: {
        kind: "prompt",
        dataset: "../../data/arithmetic",
        metric: "number",
        seedPrompt: "Solve the word problem. End your reply with the final number.",
      },
    },
  ],
})
