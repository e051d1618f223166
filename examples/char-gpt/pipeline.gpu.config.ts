// char-gpt, GPU profile: 2-minute training runs on every visible GPU (one worker per GPU), 30-second proxy
// runs for the outer stage. About 25 experiments per GPU-hour (training plus ~10 s of startup and
// evaluation per run). Run with: twoloop run --config examples/char-gpt/pipeline.gpu.config.ts
// The target is the CPU profile's (pipeline.config.ts) with a longer budget and torch's default device.
import { defineConfig } from "twoloop/config"
import cpu from "./pipeline.config.ts"

export default defineConfig({
  ...cpu,
  name: "char-gpt-gpu",
  target: { ...cpu.target, timeBudgetSeconds: 120, env: { OMP_NUM_THREADS: "8" } },
  stages: [
    { kind: "gepa", name: "outer", budget: { metricCalls: 30 }, adapter: { kind: "research", scenarios: 3, proxyTimeBudgetSeconds: 30 } },
    { kind: "code-search", name: "inner", budget: { experiments: 40 }, workers: 1 },
  ],
  executor: { kind: "local", gpus: "auto" },
})
