// The default pipeline (`npm start`): GEPA evolves the research agent's instructions and directions on
// 2-second proxy runs of examples/tiny-lm, then the code search runs 10-second experiments with what it
// handed over. Offline: no API key needed. To use an LLM, set `model` (and optionally `reflectionModel`),
// e.g. "openai:gpt-4.1-mini" with OPENAI_API_KEY, or "openai-compatible:<model>@http://localhost:11434/v1".
import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "tiny-lm",
  store: ".twoloop/twoloop.db",
  model: "offline",
  reflectionModel: "offline",
  target: {
    dir: "examples/tiny-lm",
    editable: ["train.mjs"],
    readonly: ["prepare.mjs"],
    command: "node train.mjs",
    metric: { name: "val_bpb", direction: "minimize" },
    timeBudgetSeconds: 10,
  },
  stages: [
    {
      kind: "gepa",
      name: "outer",
      budget: { metricCalls: 36 },
      adapter: { kind: "research", scenarios: 3, proxyTimeBudgetSeconds: 2 },
    },
    { kind: "code-search", name: "inner", budget: { experiments: 14 } },
  ],
  executor: { kind: "local", gpus: "auto" },
})
