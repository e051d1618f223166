// char-gpt, GPU profile: 2-minute training runs on every visible GPU (one worker per GPU), 30-second proxy
// runs for the outer stage. About 25 experiments per GPU-hour (training plus ~10 s of startup and
// evaluation per run). Run with: twoloop run --config examples/char-gpt/pipeline.gpu.config.ts
import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "char-gpt-gpu",
  store: ".twoloop/twoloop.db",
  model: "offline",
  target: {
    dir: ".",
    editable: ["train.py"],
    readonly: ["prepare.py"],
    command: "${TWOLOOP_PYTHON:-python3} train.py && ${TWOLOOP_PYTHON:-python3} prepare.py evaluate",
    metric: { name: "val_bpb", direction: "minimize" },
    timeBudgetSeconds: 120,
    env: { OMP_NUM_THREADS: "8" },
  },
  stages: [
    { kind: "gepa", name: "outer", budget: { metricCalls: 30 }, adapter: { kind: "research", scenarios: 3, proxyTimeBudgetSeconds: 30 } },
    { kind: "code-search", name: "inner", budget: { experiments: 40 }, workers: 1 },
  ],
  executor: { kind: "local", gpus: "auto" },
})
