import { describe, expect, it } from "vitest"
import { captureGroups } from "../../../src/config.ts"
import { classifyEnding, metricFromJson, parseMetric } from "../../../stages/experiment-kit/metric.ts"

const ending = (overrides = {}) => ({ exitCode: 0, signal: null, timedOut: false, seconds: 1, peakMemoryMb: null, logTail: "", failure: null, outputBytes: 0, ...overrides })

describe("metric parsing", () => {
  it("takes the last matching stdout line", () => {
    expect(parseMetric("val_bpb: 2.0\nval_bpb: 1.5\nother: 3\n", "val_bpb").value).toBe(1.5)
    expect(parseMetric("  val_bpb: 1.0\nval_bpb_extra: 0.1\n", "val_bpb").value).toBeNull()
    expect(parseMetric("val_bpb:1e-3", "val_bpb").value).toBe(0.001)
  })

  it("classifies NaN, inf, missing metric, crashes and timeouts", () => {
    expect(classifyEnding(ending(), parseMetric("val_bpb: nan", "val_bpb"), "val_bpb")).toMatchObject({ status: "crash", reason: expect.stringContaining("not a finite") })
    expect(classifyEnding(ending(), parseMetric("val_bpb: inf", "val_bpb"), "val_bpb").status).toBe("crash")
    expect(classifyEnding(ending(), parseMetric("loss: 1", "val_bpb"), "val_bpb")).toMatchObject({ status: "crash", reason: expect.stringContaining("no \"val_bpb: <number>\" line on stdout") })
    expect(classifyEnding(ending({ exitCode: 1 }), parseMetric("val_bpb: 1", "val_bpb"), "val_bpb")).toMatchObject({ status: "crash", reason: "exit code 1" })
    expect(classifyEnding(ending({ exitCode: 127 }), parseMetric("", "val_bpb"), "val_bpb").reason).toContain("not found")
    expect(classifyEnding(ending({ timedOut: true, exitCode: null, signal: "SIGKILL" }), parseMetric("val_bpb: 1", "val_bpb"), "val_bpb").status).toBe("timeout")
    expect(classifyEnding(ending(), parseMetric("val_bpb: 0.9", "val_bpb"), "val_bpb")).toEqual({ status: "ok", metric: 0.9, reason: null })
  })
})

describe("metric formats", () => {
  const makemore = "step 0 train loss: 3.3 test loss: 3.4\nstep 500 train loss: 2.1234 test loss: 2.2345\nsampling...\n"

  it("a pattern's capture group is the value and its last match in stdout wins", () => {
    const spec = { name: "test_loss", pattern: "test loss: (\\S+)" }
    expect(parseMetric(makemore, spec)).toMatchObject({ value: 2.2345, raw: "2.2345" })
    expect(parseMetric("loss=1.5 loss=1.25\n", { name: "loss", pattern: "loss=([\\d.]+)" }).value).toBe(1.25)
    expect(classifyEnding(ending(), parseMetric("nothing here\n", spec), spec)).toMatchObject({ status: "crash", reason: "no match of /test loss: (\\S+)/ on stdout" })
    expect(classifyEnding(ending(), parseMetric("test loss: nan\n", spec), spec)).toMatchObject({ status: "crash", reason: "test_loss is not a finite number (nan)" })
  })

  it("reads a JSON file the run writes, by dotted key", () => {
    const spec = { name: "val_loss", file: "metrics.json", key: "eval.loss" }
    expect(metricFromJson('{"eval": {"loss": 1.75}}', spec).value).toBe(1.75)
    expect(metricFromJson('{"eval.loss": "2.5"}', spec).value).toBe(2.5)
    expect(classifyEnding(ending(), metricFromJson(undefined, spec), spec).reason).toBe("the run did not write metrics.json")
    expect(classifyEnding(ending(), metricFromJson('{"eval": {}}', spec), spec).reason).toBe('metrics.json has no key "eval.loss"')
    expect(classifyEnding(ending(), metricFromJson("{oops", spec), spec).reason).toMatch(/^metrics\.json is not JSON/)
    expect(classifyEnding(ending(), metricFromJson('{"eval": {"loss": null}}', spec), spec)).toMatchObject({ status: "crash", reason: "val_loss is not a finite number (null)" })
  })

  it("a pattern needs exactly one capture group", () => {
    expect(captureGroups("test loss: (\\S+)")).toBe(1)
    expect(captureGroups("test loss: (?:\\S+)")).toBe(0)
    expect(captureGroups("(a)(b)")).toBe(2)
    expect(captureGroups("(?<v>\\d+)")).toBe(1)
    expect(captureGroups("(unclosed")).toMatchObject({ error: expect.stringContaining("Invalid regular expression") })
  })
})
