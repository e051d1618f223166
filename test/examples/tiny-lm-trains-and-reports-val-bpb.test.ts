import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const example = path.join(root, "examples/tiny-lm")

const run = (cwd: string, env: Record<string, string> = {}, args: Array<string> = []) =>
  execa(process.execPath, ["train.mjs", ...args], { cwd, env: { TWOLOOP_TIME_BUDGET: "1", ...env }, reject: false, timeout: 30_000 })

describe("examples/tiny-lm", () => {
  it("trains within the budget and prints a val_bpb well below the unigram model's 4.44", async () => {
    const result = await run(example, { TWOLOOP_SEED: "3" })
    expect(result.exitCode, String(result.stderr)).toBe(0)
    const bpb = Number(/^val_bpb: (\S+)$/m.exec(String(result.stdout))![1])
    expect(Number.isFinite(bpb)).toBe(true)
    expect(bpb).toBeLessThan(4.3)
    expect(Number(/^training_seconds: (\S+)$/m.exec(String(result.stdout))![1])).toBeGreaterThanOrEqual(1)
    expect(Number(/^num_steps: (\d+)$/m.exec(String(result.stdout))![1])).toBeGreaterThan(100)
  })

  it("has correct gradients", async () => {
    const result = await run(example, {}, ["--gradcheck"])
    expect(result.exitCode, String(result.stdout)).toBe(0)
    expect(Number(/max relative error: (\S+)/.exec(String(result.stdout))![1])).toBeLessThan(1e-4)
  })

  it("fails with one line when the corpus is missing", async () => {
    const result = await run(example, { TINY_LM_DATA: "/nonexistent/data.txt" })
    expect(result.exitCode).toBe(2)
    expect(String(result.stderr).trim().split("\n")).toHaveLength(1)
    expect(String(result.stderr)).toContain("tiny-lm: cannot read the corpus /nonexistent/data.txt")
  })

  it("finds the corpus from a worktree-style copy under the project", async () => {
    const copy = fs.mkdtempSync(path.join(root, ".twoloop-test-worktree-"))
    try {
      const target = path.join(copy, "runs", "r1", "worktrees", "inner-w0", "examples", "tiny-lm")
      fs.mkdirSync(target, { recursive: true })
      for (const file of ["prepare.mjs", "train.mjs"]) fs.copyFileSync(path.join(example, file), path.join(target, file))
      const result = await run(target, { TWOLOOP_TIME_BUDGET: "0.3" })
      expect(result.exitCode, String(result.stderr)).toBe(0)
      expect(String(result.stdout)).toMatch(/^val_bpb: \d/m)
    } finally {
      fs.rmSync(copy, { recursive: true, force: true })
    }
  })
})
