/**
 * Reflection-reply extraction against the reference's own cases (gepa's instruction-proposal tests, restated
 * here), then twoloop's further cases. `undefined` means the reply is rejected as truncated.
 */
import { describe, expect, it } from "vitest"
import { extractInstruction } from "../../../stages/gepa/extractInstruction.ts"

describe("extractInstruction, reference cases", () => {
  // name, reply, what the reference extracts, what twoloop extracts (differs only where marked)
  const cases: ReadonlyArray<readonly [string, string, string, string | undefined]> = [
    ["a language tag after the opening fence is dropped", "Here's the improved instruction:\n```markdown\nThe real instruction.\nNot the word markdown.\n```\n", "The real instruction.\nNot the word markdown.", "The real instruction.\nNot the word markdown."],
    ["a block without a tag, with text around it", "Here's the instruction:\n```\nNo tag on this one.\n```\nDone.", "No tag on this one.", "No tag on this one."],
    ["a fence inside the text does not end the block early", "```markdown\nMind these backticks: ```\n```", "Mind these backticks: ```", "Mind these backticks: ```"],
    ["blank lines inside the block are stripped", "```\n\nThe instructions.\n\n```", "The instructions.", "The instructions."],
    [
      "several blocks: from the first fence to the last",
      "Begin text\n```plaintext\nBegin instructions\n\n```\nInner block 1\n```\n\n```python\nInner block 2\n```\n\nEnd instructions\n```\nEnd text\n",
      "Begin instructions\n\n```\nInner block 1\n```\n\n```python\nInner block 2\n```\n\nEnd instructions",
      "Begin instructions\n\n```\nInner block 1\n```\n\n```python\nInner block 2\n```\n\nEnd instructions",
    ],
    // DEVIATION (deliberate fix): an opening fence that is never closed is a truncated reply; the reference adopts it.
    ["an opening fence never closed", "```text\nThe instructions.", "The instructions.", undefined],
    ["a single closing fence at the end is dropped", "The instructions.\n```", "The instructions.", "The instructions."],
    // DEVIATION (deliberate fix): a lone fence with text after it is the same truncation.
    ["a lone fence in the middle", "\nSome backticks:\n```\nI hope that was clear.\n                ", "Some backticks:\n```\nI hope that was clear.", undefined],
    ["no fence: the stripped text", "\n                The instructions.\n                ", "The instructions.", "The instructions."],
    // Issue 14: the reference strips the reply before extracting, so a reply that is only a fence holds no instruction.
    ["only a fence", "```", "", ""],
    ["only a fence, with whitespace around it", "  \n```\n  ", "", ""],
    // DEVIATION (deliberate fix): an opening fence with its tag and nothing more is a reply cut right after it.
    ["only an opening fence with a tag", "\n```markdown\n", "", undefined],
    ["an empty block", "```\n```", "", ""],
  ]

  it.each(cases)("%s", (_name, reply, reference, expected) => {
    expect(extractInstruction(reply)).toBe(expected)
    if (expected !== undefined) expect(expected).toBe(reference)
  })
})

describe("extractInstruction, further cases", () => {
  it("keeps a first line that is not a bare tag", () => {
    expect(extractInstruction("```Answer with a number only.\nShow no work.\n```")).toBe("Answer with a number only.\nShow no work.")
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
