/**
 * The promotion ladder's ablation of a kept edit on the incumbent: a tunable edit is undone by setting its
 * tunables back to their values before it, also where a later keep pushed the same tunable further; a code
 * edit is undone by swapping its text back.
 */
import { describe, expect, it } from "vitest"
import { applyChanges } from "../../../stages/experiment-kit/edits.ts"
import { findTunables } from "../../../stages/experiment-kit/tunables/index.ts"
import { revertOnIncumbent } from "../../../stages/code-search/promote.ts"
import type { Edit } from "../../../src/domain/Edit.ts"

const script = (lr: string, hidden: string, extra = "") => `const LEARNING_RATE = ${lr}\nconst HIDDEN = ${hidden}\n${extra}run({ LEARNING_RATE, HIDDEN })\n`
const filesOf = (content: string) => new Map([["train.mjs", content]])
const setting = (files: ReadonlyMap<string, string>, name: string, to: string): Edit => {
  const tunable = findTunables(files).find((t) => t.name === name)!
  return { direction: "", rationale: "", description: `${name} ${tunable.value.text} -> ${to}`, changes: [tunable.change(to)] }
}
const apply = (files: ReadonlyMap<string, string>, edit: Edit) => {
  const applied = applyChanges(files, edit.changes)
  if (!applied.ok) throw new Error("edit does not apply")
  return new Map([...files, ...applied.files])
}

describe("the promotion ladder's revert", () => {
  const start = filesOf(script("0.01", "64"))
  const first = setting(start, "LEARNING_RATE", "0.02")
  const afterFirst = apply(start, first)

  it("sets a tunable back to its value before the edit, on the incumbent as it is", () => {
    const incumbent = apply(afterFirst, setting(afterFirst, "HIDDEN", "128"))
    const revert = revertOnIncumbent(first, afterFirst, incumbent)!
    expect(revert.description).toBe("revert: LEARNING_RATE 0.02 -> 0.01")
    expect(apply(incumbent, revert).get("train.mjs")).toBe(script("0.01", "128"))
  })

  it("still undoes it when a later keep pushed the same tunable further (a text swap no longer applies there)", () => {
    const incumbent = apply(afterFirst, setting(afterFirst, "LEARNING_RATE", "0.04"))
    const revert = revertOnIncumbent(first, afterFirst, incumbent)!
    expect(revert.description).toBe("revert: LEARNING_RATE 0.04 -> 0.01")
    expect(apply(incumbent, revert).get("train.mjs")).toBe(script("0.01", "64"))
  })

  it("has nothing to undo when the incumbent already has the value from before the edit", () => {
    const incumbent = apply(afterFirst, setting(afterFirst, "LEARNING_RATE", "0.01"))
    expect(revertOnIncumbent(first, afterFirst, incumbent)).toBeUndefined()
  })

  it("swaps a code edit's text back, and gives up when its lines are gone", () => {
    const code: Edit = { direction: "", rationale: "", description: "clip gradients", changes: [{ path: "train.mjs", kind: "replace", search: "run({ LEARNING_RATE, HIDDEN })", replace: "clip()\nrun({ LEARNING_RATE, HIDDEN })" }] }
    const afterCode = apply(start, code)
    const revert = revertOnIncumbent(code, afterCode, afterCode)!
    expect(revert.description).toBe("revert: clip gradients")
    expect(apply(afterCode, revert).get("train.mjs")).toBe(script("0.01", "64"))
    expect(revertOnIncumbent(code, afterCode, start)).toBeUndefined()
  })
})
