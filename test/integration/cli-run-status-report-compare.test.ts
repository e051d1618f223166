import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { makeProject } from "../support/pipeline.ts"

const config = `import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "cli-e2e",
  target: {
    dir: "target",
    editable: ["train.mjs"],
    readonly: ["prepare.mjs"],
    command: "node train.mjs",
    metric: { name: "loss", direction: "minimize" },
    timeBudgetSeconds: 5,
  },
  executor: { kind: "local", gpus: "none" },
  stages: [{ kind: "code-search", name: "inner", budget: { experiments: 8 } }],
})
`

describe("the CLI end to end on a fixture target", () => {
  it("runs, reports status, writes the report and JSON, and compares runs", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(path.join(root, "pipeline.config.ts"), config)
    const run = await twoloop(["run"], { cwd: root })
    expect(run.exitCode, String(run.all)).toBe(0)
    const runId = /run (\d{8}-\d{6}-[0-9a-f]{4}) completed/.exec(String(run.stdout))![1]!
    expect(String(run.stdout)).toMatch(/inner \(code-search\): completed — loss 2\.\d+ → [\d.]+ \(gain [\d.]+\), \d+\/8 kept, offline proposer/)
    const reportFile = /report: (.*report\.md)/.exec(String(run.stdout))![1]!
    const markdown = fs.readFileSync(reportFile, "utf8")
    expect(markdown).toContain("## Gains")
    expect(markdown).toContain("offline proposer (no LLM)")
    expect(markdown).toContain("![progress of inner](progress-inner.svg)")
    const svg = fs.readFileSync(path.join(path.dirname(reportFile), "progress-inner.svg"), "utf8")
    expect(svg).toContain('fill="#2e9d4f"')
    expect((svg.match(/<circle /g) ?? []).length).toBeGreaterThanOrEqual(8)

    const status = await twoloop(["status"], { cwd: root })
    expect(status.exitCode).toBe(0)
    expect(String(status.stdout)).toContain(`run ${runId} (cli-e2e): completed`)
    expect(String(status.stdout)).toMatch(/experiments 8: \d+ keep/)

    const json = await twoloop(["report", runId, "--format", "json"], { cwd: root })
    expect(json.exitCode).toBe(0)
    const report = JSON.parse(String(json.stdout))
    expect(Object.keys(report)).toEqual(expect.arrayContaining(["runId", "status", "name", "outer", "inner", "arms", "llm", "compute"]))
    expect(report.inner).toMatchObject({ metric: "loss", direction: "minimize", experiments: 8, offline: true })
    expect(report.inner.gain).toBeGreaterThan(0)
    expect(report.inner.gain).toBeCloseTo(report.inner.baseline - report.inner.best, 10)
    expect(report.arms.hybrid.best).toBe(report.inner.best)
    expect(report.llm).toEqual({ calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 })
    expect(report.compute.experimentSeconds).toBeGreaterThan(0)

    const second = await twoloop(["run", "--quiet"], { cwd: root })
    expect(second.exitCode).toBe(0)
    const secondId = /run (\d{8}-\d{6}-[0-9a-f]{4}) completed/.exec(String(second.stdout))![1]!
    const compare = await twoloop(["compare", runId, secondId], { cwd: root })
    expect(compare.exitCode).toBe(0)
    expect(String(compare.stdout).split("\n").filter((l) => l.startsWith(`| 2`))).toHaveLength(2)

    const missing = await twoloop(["report", "nope"], { cwd: root })
    expect(missing.exitCode).toBe(1)
    expect(String(missing.stderr).trim()).toMatch(/^twoloop: no run nope in /)
  })
})
