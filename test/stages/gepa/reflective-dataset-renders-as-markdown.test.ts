import { describe, expect, it } from "vitest"
import { renderReflectiveDataset } from "../../../stages/gepa/renderReflectiveDataset.ts"

describe("renderReflectiveDataset", () => {
  it("renders each record as an example with one header per key, scalars stripped", () => {
    const text = renderReflectiveDataset([
      { Inputs: "  What is 2+2? ", "Generated Outputs": "5", Feedback: "Wrong: the answer is 4." },
      { Inputs: "What is 3+3?", "Generated Outputs": 6, Feedback: "Correct." },
    ])
    expect(text).toBe(
      "# Example 1\n## Inputs\nWhat is 2+2?\n\n## Generated Outputs\n5\n\n## Feedback\nWrong: the answer is 4.\n\n" +
        "\n\n" +
        "# Example 2\n## Inputs\nWhat is 3+3?\n\n## Generated Outputs\n6\n\n## Feedback\nCorrect.\n\n",
    )
  })

  it("renders nested objects as deeper headers and list items as Item k", () => {
    const text = renderReflectiveDataset([{ Inputs: { question: "q", context: ["first", { note: "n" }] } }])
    expect(text).toBe("# Example 1\n## Inputs\n### question\nq\n\n### context\n#### Item 1\nfirst\n\n#### Item 2\n##### note\nn\n\n")
  })

  it("caps header depth at six", () => {
    const text = renderReflectiveDataset([{ K: { a: { b: { c: { d: { e: "deep" } } } } } }])
    expect(text).toBe("# Example 1\n## K\n### a\n#### b\n##### c\n###### d\n###### e\ndeep\n\n")
  })

  it("renders empty containers as a blank line and null as text", () => {
    expect(renderReflectiveDataset([{ A: [], B: {}, C: null }])).toBe("# Example 1\n## A\n\n## B\n\n## C\nnull\n\n")
  })

  it("renders no records as an empty string", () => {
    expect(renderReflectiveDataset([])).toBe("")
  })
})
