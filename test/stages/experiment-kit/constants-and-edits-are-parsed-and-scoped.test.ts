import { describe, expect, it } from "vitest"
import { alternativesFromComment, findConstants, replaceValue } from "../../../stages/experiment-kit/tunables/constants.ts"
import { applyChanges, checkScope, isSeedOnlyChange, normalizeEditPath } from "../../../stages/experiment-kit/edits.ts"

const python = `import torch
LEARNING_RATE = 3e-4  # peak lr
N_LAYER = 4
USE_BIAS = True
OPTIMIZER = "adamw"  # one of: "adamw", "sgd", "lion"
name_lower = 3
    INDENTED = 5
BLOCK: int = 128
MODEL_NAME = "x"  # options: small, base | large
`

const js = `import { run } from "./prepare.mjs"
const LEARNING_RATE = 0.01 // too low?
export const HIDDEN = 64;
let USE_MOMENTUM = false
const OPTIMIZER = 'sgd' // one of: "sgd", "momentum", "adam"
const TS_TYPED: number = 2
const notUpper = 1
const URL = "https://a#b" // a string with // inside
`

describe("tunable constants", () => {
  it("finds top-level UPPER_CASE numbers, booleans and strings in Python", () => {
    const found = findConstants("train.py", python)
    expect(found.map((c) => [c.name, c.value.kind, c.value.text])).toEqual([
      ["LEARNING_RATE", "number", "3e-4"],
      ["N_LAYER", "number", "4"],
      ["USE_BIAS", "boolean", "True"],
      ["OPTIMIZER", "string", '"adamw"'],
      ["BLOCK", "number", "128"],
      ["MODEL_NAME", "string", '"x"'],
    ])
    expect(found.find((c) => c.name === "OPTIMIZER")!.alternatives).toEqual(["sgd", "lion"])
    expect(found.find((c) => c.name === "MODEL_NAME")!.alternatives).toEqual(["small", "base", "large"])
  })

  it("finds them in JS/TS, ignoring comment markers inside strings", () => {
    const found = findConstants("train.mjs", js)
    expect(found.map((c) => c.name)).toEqual(["LEARNING_RATE", "HIDDEN", "USE_MOMENTUM", "OPTIMIZER", "TS_TYPED", "URL"])
    const url = found.find((c) => c.name === "URL")!
    expect(url.value.kind === "string" && url.value.value).toBe("https://a#b")
    const hidden = found.find((c) => c.name === "HIDDEN")!
    expect(replaceValue(hidden, "128")).toBe("export const HIDDEN = 128;")
    const optimizer = found.find((c) => c.name === "OPTIMIZER")!
    expect(optimizer.alternatives).toEqual(["momentum", "adam"])
  })

  it("writes a new value with a change that can only match its own line", () => {
    const content = "MAX_LR = 0.1\nLR = 0.1\nX = 0.0\nY = 2\n"
    const files = new Map([["train.py", content]])
    const lr = findConstants("train.py", content).find((c) => c.name === "LR")!
    const applied = applyChanges(files, [lr.change("0.2")])
    expect(applied.ok && applied.files.get("train.py")).toBe("MAX_LR = 0.1\nLR = 0.2\nX = 0.0\nY = 2\n")
    // a change prepared when X was 0.0 does not apply once X is 0.001 (it would have made 0.0101)
    const x = findConstants("train.py", content).find((c) => c.name === "X")!
    const later = new Map([["train.py", content.replace("X = 0.0", "X = 0.001")]])
    expect(applyChanges(later, [x.change("0.01")]).ok).toBe(false)
  })

  it("reads alternatives from comments", () => {
    expect(alternativesFromComment('one of: "a", "b"')).toEqual(["a", "b"])
    expect(alternativesFromComment("choices: cosine | linear | constant")).toEqual(["cosine", "linear", "constant"])
    expect(alternativesFromComment("just a note")).toEqual([])
  })
})

describe("edit scope and application", () => {
  const edit = (path: string) => ({ direction: "d", rationale: "r", description: "x", changes: [{ path, kind: "replace" as const, search: "a", replace: "b" }] })

  it("allows editable files and refuses readonly, other and escaping paths", () => {
    expect(checkScope(edit("train.py"), ["train.py"], ["prepare.py"])).toEqual({ ok: true })
    expect(checkScope(edit("./train.py"), ["train.py"], [])).toEqual({ ok: true })
    expect(checkScope(edit("prepare.py"), ["train.py"], ["prepare.py"])).toMatchObject({ ok: false, reason: expect.stringContaining("readonly") })
    expect(checkScope(edit("other.py"), ["train.py"], [])).toMatchObject({ ok: false, reason: expect.stringContaining("not an editable") })
    expect(checkScope(edit("../train.py"), ["train.py"], [])).toMatchObject({ ok: false, reason: expect.stringContaining("escapes") })
    expect(checkScope(edit("sub/../../x"), ["train.py"], [])).toMatchObject({ ok: false, reason: expect.stringContaining("escapes") })
    expect(checkScope(edit("/etc/passwd"), ["train.py"], [])).toMatchObject({ ok: false })
    expect(normalizeEditPath("a/./b.py")).toBe("a/b.py")
  })

  it("applies search/replace only when the search text occurs exactly once", () => {
    const files = new Map([["t.py", "X = 1\nY = 1\n"]])
    expect(applyChanges(files, [{ path: "t.py", kind: "replace", search: "X = 1", replace: "X = 2" }])).toMatchObject({ ok: true })
    expect(applyChanges(files, [{ path: "t.py", kind: "replace", search: "= 1", replace: "= 2" }])).toMatchObject({ ok: false, reason: expect.stringContaining("2 times") })
    expect(applyChanges(files, [{ path: "t.py", kind: "replace", search: "Z = 1", replace: "" }])).toMatchObject({ ok: false, reason: expect.stringContaining("not found") })
    expect(applyChanges(files, [{ path: "t.py", kind: "replace", search: "X = 1", replace: "X = 1" }])).toMatchObject({ ok: false, reason: expect.stringContaining("unchanged") })
    const rewritten = applyChanges(files, [{ path: "t.py", kind: "rewrite", content: "X = 3\n" }])
    expect(rewritten.ok && rewritten.files.get("t.py")).toBe("X = 3\n")
  })

  it("recognises an edit that only changes the seed", () => {
    const before = new Map([["t.py", "SEED = 42\nLR = 1\n"]])
    expect(isSeedOnlyChange(before, new Map([["t.py", "SEED = 137\nLR = 1\n"]]))).toBe(true)
    expect(isSeedOnlyChange(before, new Map([["t.py", "SEED = 137\nLR = 2\n"]]))).toBe(false)
  })
})
