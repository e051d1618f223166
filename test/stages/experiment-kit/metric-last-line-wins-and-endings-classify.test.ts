import { describe, expect, it } from "vitest"
import { classifyEnding, parseMetric } from "../../../stages/experiment-kit/metric.ts"

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
    expect(classifyEnding(ending(), parseMetric("loss: 1", "val_bpb"), "val_bpb")).toMatchObject({ status: "crash", reason: expect.stringContaining("no \"val_bpb") })
    expect(classifyEnding(ending({ exitCode: 1 }), parseMetric("val_bpb: 1", "val_bpb"), "val_bpb")).toMatchObject({ status: "crash", reason: "exit code 1" })
    expect(classifyEnding(ending({ exitCode: 127 }), parseMetric("", "val_bpb"), "val_bpb").reason).toContain("not found")
    expect(classifyEnding(ending({ timedOut: true, exitCode: null, signal: "SIGKILL" }), parseMetric("val_bpb: 1", "val_bpb"), "val_bpb").status).toBe("timeout")
    expect(classifyEnding(ending(), parseMetric("val_bpb: 0.9", "val_bpb"), "val_bpb")).toEqual({ status: "ok", metric: 0.9, reason: null })
  })
})
