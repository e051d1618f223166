/**
 * The search-efficiency benchmark's judged race: each arm's incumbents in order (its base, then each keep),
 * re-run by a compute-budget judge no search saw, and who got to the inner-only arm's judged best first.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { incumbentCommits, judgedOutcome } from "../../bench/searchEfficiency.ts"
import { scriptJudge, UNIFORM_BPB } from "../../bench/targets/tinyLm.ts"
import type { Experiment } from "../../src/domain/Experiment.ts"

const row = (seq: number, fields: Partial<Experiment>): Experiment =>
  ({ id: seq, seq, stageId: 1, purpose: "candidate", status: "discard", metric: null, parentId: null, baseCommit: "base", resultCommit: null, ...fields }) as Experiment

describe("the judged race", () => {
  it("lists a search's incumbents in order: its base at 0, then every keep with its result commit", () => {
    const rows = [
      row(1, { purpose: "baseline", status: "measured", metric: 3.9 }),
      row(5, { status: "keep", metric: 3.5, resultCommit: "c5" }),
      row(2, { status: "keep", metric: 3.7, resultCommit: "c2" }),
      row(3, { status: "discard", metric: 3.6, resultCommit: "c3" }),
      row(4, { purpose: "confirm", status: "measured", metric: 3.4, parentId: 2 }),
    ]
    expect(incumbentCommits(rows)).toEqual([
      { seq: 0, commit: "base" },
      { seq: 2, commit: "c2" },
      { seq: 5, commit: "c5" },
    ])
    expect(() => incumbentCommits(rows.slice(1))).toThrow(/without a baseline/)
  })

  it("targets the inner-only arm's best judged incumbent, not its last, and counts the first incumbent judged as good", () => {
    // inner-only's last keep measured better but is judged worse than the one before it
    const race = {
      budgetSeconds: 10,
      seeds: [5000],
      innerOnly: [{ seq: 0, value: 3.4 }, { seq: 6, value: 3.1 }, { seq: 11, value: 3.15 }],
      hybrid: [{ seq: 0, value: 3.4 }, { seq: 3, value: 3.12 }, { seq: 5, value: 3.05 }],
    }
    expect(judgedOutcome(race)).toEqual({ innerOnlyBest: 3.1, innerOnlyToBest: 6, hybridToReach: 5, innerOnlyFinal: 3.15, hybridFinal: 3.05 })
    expect(judgedOutcome({ ...race, hybrid: [{ seq: 0, value: 3.4 }, { seq: 3, value: 3.2 }] }).hybridToReach).toBeNull()
    // an inner-only arm whose keeps are all judged worse than its base got to its best at 0: nothing to race
    expect(judgedOutcome({ ...race, innerOnly: [{ seq: 0, value: 3.4 }, { seq: 4, value: 3.45 }] }).innerOnlyToBest).toBe(0)
  })

  it("judges a tiny-lm script by its mean val_bpb over the judge's seeds, once per script; a broken one as the uniform model", async () => {
    const train = fs.readFileSync(path.resolve(import.meta.dirname, "../../examples/tiny-lm/train.mjs"), "utf8")
    const judge = scriptJudge(0.2, [5000, 5001])
    const first = judge(train)
    expect(judge(train)).toBe(first)
    const value = await first
    expect(value).toBeGreaterThan(2)
    expect(value).toBeLessThan(UNIFORM_BPB)
    // another judge of the same script and seeds gets the same value: the compute budget does not read the clock
    expect(await scriptJudge(0.2, [5000, 5001])(train)).toBe(value)
    expect(await judge(train.replace(/^const OPTIMIZER = .*$/m, "const OPTIMIZER = ("))).toBe(UNIFORM_BPB)
  })
})
