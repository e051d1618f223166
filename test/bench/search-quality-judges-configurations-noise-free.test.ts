/**
 * The search-quality benchmark's measuring stick: the synthetic targets (traps, a known optimum, seeded
 * noise, a noise-free mode only the judge uses) and how a system's history becomes a judged configuration.
 */
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { configurationAt, costToReach, optimumOf, pairedTable, type SeedResult, type Trajectory } from "../../bench/searchQuality.ts"
import { defaultsOf, measuredLoss, noiseFreeLoss, targetNamed, targets, trainScript } from "../../bench/targets/synthetic.mjs"
import { inspectTunables } from "../../stages/experiment-kit/tunables/index.ts"
import { tempDir } from "../support/tmp.ts"

describe("synthetic targets", () => {
  it("have a known optimum well below the defaults, found by the judge's own minimisation", () => {
    const optima = Object.fromEntries(targets.map((t) => [t.name, optimumOf(t)]))
    expect(optima.interaction).toBeCloseTo(0.91, 3)
    expect(optima.inert).toBeCloseTo(3.0, 3)
    expect(optima.fidelity).toBeCloseTo(1.15, 3)
    for (const target of targets) expect(noiseFreeLoss(target, {}) - optima[target.name]!).toBeGreaterThan(0.2)
  })

  it("hide their traps: adam diverges at sgd's rate, memory runs out, regularisers start at 0, the proxy favours other values", () => {
    const interaction = targetNamed("interaction")
    expect(interaction.objective({ ...defaultsOf(interaction), OPTIMIZER: "adam" }, 1)).toEqual({ diverged: true })
    expect(noiseFreeLoss(interaction, { OPTIMIZER: "adam", LEARNING_RATE: 0.003 })).toBeLessThan(noiseFreeLoss(interaction, {}) - 0.4)
    const cliffs = targetNamed("cliffs")
    expect(cliffs.objective({ ...defaultsOf(cliffs), WIDTH: 1024 }, 1)).toMatchObject({ crash: expect.stringContaining("out of memory") })
    expect(Object.values(defaultsOf(targetNamed("zero-defaults"))).filter((v) => v === 0).length).toBeGreaterThanOrEqual(5)
    const fidelity = targetNamed("fidelity")
    const at = (lr: number, f: number) => noiseFreeLoss(fidelity, { LEARNING_RATE: lr }, f)
    expect(at(0.016, 0.2)).toBeLessThan(at(0.006, 0.2))
    expect(at(0.006, 1)).toBeLessThan(at(0.016, 1))
  })

  it("measure with seeded noise: the same seed and values give the same loss, another seed another", () => {
    const target = targetNamed("inert")
    const once = measuredLoss(target, {}, 1, 3)
    expect(measuredLoss(target, {}, 1, 3)).toEqual(once)
    expect(measuredLoss(target, {}, 1, 4)).not.toEqual(once)
    expect(Math.abs(("loss" in once ? once.loss : Infinity) - noiseFreeLoss(target, {}))).toBeLessThan(0.1)
  })

  it("run as a training script: constants a tunable parser finds, a loss line, overrides, noise-free mode, NaN and crashes", async () => {
    const target = targetNamed("interaction")
    const dir = tempDir("twoloop-synthetic-")
    fs.writeFileSync(path.join(dir, "train.mjs"), trainScript(target))
    fs.copyFileSync(path.resolve(import.meta.dirname, "../../bench/targets/synthetic.mjs"), path.join(dir, "harness.mjs"))
    // every constant is found (a logging cadence is set aside as not research, like in any script)
    const inspection = inspectTunables(new Map([["train.mjs", trainScript(target)]]))
    expect([...inspection.tunables, ...inspection.setAside.map((s) => s.tunable)].map((t) => t.name).sort()).toEqual(target.constants.map((c) => c.name).sort())
    const run = (env: Record<string, string>) => execa(process.execPath, ["train.mjs"], { cwd: dir, env: { TWOLOOP_SEED: "1", ...env }, reject: false })
    const clean = await run({ TWOLOOP_NOISE_FREE: "1" })
    expect(Number(/^loss: (\S+)$/m.exec(String(clean.stdout))![1])).toBeCloseTo(noiseFreeLoss(target, {}), 5)
    const adam = await run({ TWOLOOP_NOISE_FREE: "1", TARGET_PARAMS: JSON.stringify({ OPTIMIZER: "adam", LEARNING_RATE: 0.003 }) })
    expect(Number(/^loss: (\S+)$/m.exec(String(adam.stdout))![1])).toBeCloseTo(noiseFreeLoss(target, { OPTIMIZER: "adam", LEARNING_RATE: 0.003 }), 5)
    expect(String((await run({ TARGET_PARAMS: JSON.stringify({ OPTIMIZER: "adam" }) })).stdout)).toMatch(/^loss: nan$/m)
    const crashed = await run({ TARGET_PARAMS: JSON.stringify({ OPTIMIZER: "lion" }) })
    expect(crashed.exitCode).toBe(1)
    expect(String(crashed.stderr)).toContain("unknown optimizer lion")
  })
})

describe("judging a system's history", () => {
  const trajectory: Trajectory = {
    points: [
      { cost: 0, params: { X: 0 } },
      { cost: 2.4, params: { X: 1 } },
      { cost: 7, params: { X: 2 } },
    ],
    proxyCost: 2.4,
  }

  it("takes the configuration it had after the budget, proxy runs charged", () => {
    expect(configurationAt(trajectory, 2)).toEqual({ X: 0 })
    expect(configurationAt(trajectory, 6.9)).toEqual({ X: 1 })
    expect(configurationAt(trajectory, 30)).toEqual({ X: 2 })
  })

  it("counts full-run equivalents until a configuration reached a threshold within the budget", () => {
    const loss = (params: Record<string, unknown>) => 10 - (params.X as number)
    expect(costToReach(trajectory, loss, 9, 30)).toBe(2.4)
    expect(costToReach(trajectory, loss, 8, 30)).toBe(7)
    expect(costToReach(trajectory, loss, 8, 5)).toBeNull()
    expect(costToReach(trajectory, loss, 7, 30)).toBeNull()
  })
})

describe("the paired comparison", () => {
  it("counts seeds where hybrid is better, equal and worse, and gives the mean difference with its standard error", () => {
    const result = (system: SeedResult["system"], seed: number, final: number): SeedResult => ({ target: "t", system, seed, final, runsTo90: null, proxyCost: 0 })
    const results = [result("hybrid", 0, 1.0), result("hybrid", 1, 1.0), result("hybrid", 2, 1.2), result("tpe", 0, 1.1), result("tpe", 1, 1.0), result("tpe", 2, 1.1)]
    const table = pairedTable([{ target: "t", title: "", start: 2, optimum: 1, results }])
    // only systems with results get a row; differences are theirs minus hybrid's: 0.1, 0, -0.1
    expect(table.rows).toEqual([["t", "tpe", 1, 1, 1, "0.0000 ± 0.0577"]])
  })
})
