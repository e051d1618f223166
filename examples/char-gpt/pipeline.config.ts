// char-gpt, CPU profile: small enough to run in CI (torch from Debian, no GPU) in about a minute. The
// command uses TWOLOOP_PYTHON when set (e.g. /usr/bin/python3, where Debian's torch lives).
// The GPU profile is pipeline.gpu.config.ts.
import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "char-gpt",
  store: ".twoloop/twoloop.db",
  model: "offline",
  target: {
    dir: ".",
    editable: ["train.py"],
    readonly: ["prepare.py"],
    command: "${TWOLOOP_PYTHON:-python3} train.py && ${TWOLOOP_PYTHON:-python3} prepare.py evaluate",
    metric: { name: "val_bpb", direction: "minimize" },
    timeBudgetSeconds: 3,
    env: { CHAR_GPT_DEVICE: "cpu", OMP_NUM_THREADS: "1" },
  },
  stages: [
    {
      kind: "gepa",
      name: "outer",
      budget: { metricCalls: 6 },
      minibatchSize: 1,
      adapter: { kind: "research", scenarios: 2, proxyTimeBudgetSeconds: 2 },
    },
    { kind: "code-search", name: "inner", budget: { experiments: 4 }, graceSeconds: 60 },
  ],
  executor: { kind: "local", gpus: "none" },
})
