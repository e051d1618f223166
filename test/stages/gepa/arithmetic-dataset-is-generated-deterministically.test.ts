import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { arithmeticSplitSizes, generateArithmeticDataset, generateArithmeticProblems, toJsonl } from "../../../stages/gepa/datasets/arithmetic.ts"

const dataDir = path.resolve(import.meta.dirname, "../../../data/arithmetic")

describe("the arithmetic dataset", () => {
  it("is the same for the same seed and different for another", () => {
    expect(generateArithmeticProblems(5, 20)).toEqual(generateArithmeticProblems(5, 20))
    expect(generateArithmeticProblems(6, 20)).not.toEqual(generateArithmeticProblems(5, 20))
  })

  it("has answers that match the worked explanation", () => {
    for (const problem of generateArithmeticProblems(9, 300)) {
      const last = problem.explanation.match(/= (-?\d+)\.$/)
      expect(last?.[1], problem.input).toBe(problem.answer)
      expect(Number(problem.answer)).toBeGreaterThanOrEqual(0)
    }
  })

  it("uses units a model must be told about in a good share of problems", () => {
    const withUnits = generateArithmeticProblems(9, 300).filter((problem) => /^1 [a-z' ]+ = \d+/.test(problem.explanation))
    expect(withUnits.length).toBeGreaterThan(90)
  })

  it("ships train and val files equal to the generator's output, with unique ids and no overlap", () => {
    const { train, val } = generateArithmeticDataset()
    expect(train).toHaveLength(arithmeticSplitSizes.train)
    expect(val).toHaveLength(arithmeticSplitSizes.val)
    expect(fs.readFileSync(path.join(dataDir, "train.jsonl"), "utf8")).toBe(toJsonl(train))
    expect(fs.readFileSync(path.join(dataDir, "val.jsonl"), "utf8")).toBe(toJsonl(val))
    const ids = [...train, ...val].map((problem) => problem.id)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
