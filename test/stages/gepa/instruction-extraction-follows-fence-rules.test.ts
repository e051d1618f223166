import { describe, expect, it } from "vitest"
import { extractInstruction } from "../../../stages/gepa/extractInstruction.ts"

describe("extractInstruction", () => {
  it("takes the text between the first and the last fence", () => {
    expect(extractInstruction("Sure!\n```\nBe brief.\n```\nHope it helps.")).toBe("Be brief.")
  })

  it("drops a leading language tag line", () => {
    expect(extractInstruction("```markdown\n# Task\nAdd the numbers.\n```")).toBe("# Task\nAdd the numbers.")
    expect(extractInstruction("```text\nSolve it.\n```")).toBe("Solve it.")
  })

  it("keeps a first line that is not a bare tag", () => {
    expect(extractInstruction("```Answer with a number only.\nShow no work.\n```")).toBe("Answer with a number only.\nShow no work.")
  })

  it("spans inner fences from the first to the last", () => {
    expect(extractInstruction("```\nUse this format:\n```json\n{}\n```\nThanks\n```")).toBe("Use this format:\n```json\n{}\n```\nThanks")
  })

  it("with a single fence at the end, drops the closing fence", () => {
    expect(extractInstruction("Multiply, then add.\n```")).toBe("Multiply, then add.")
  })

  it("with a lone fence and nothing after it, yields an empty text", () => {
    expect(extractInstruction("```\n")).toBe("")
  })

  it("returns the stripped text when there is no fence", () => {
    expect(extractInstruction("  \n Think step by step.\n ")).toBe("Think step by step.")
  })

  it("rejects an opening fence that is never closed (a truncated reply)", () => {
    expect(extractInstruction("```\nAlways answer with the final num")).toBeUndefined()
    expect(extractInstruction("Here you go:\n```text\nStep 1: read the problem")).toBeUndefined()
    expect(extractInstruction("```python\n")).toBeUndefined()
  })

  it("rejects a third, unclosed fence after a closed block", () => {
    expect(extractInstruction("```\nfirst\n```\nand then\n```\nsecond, cut off")).toBeUndefined()
  })

  it("accepts an odd number of fences when only blank text follows the last", () => {
    expect(extractInstruction("```\nfirst\n```\nmore\n```\n  ")).toBe("first\n```\nmore")
  })
})
