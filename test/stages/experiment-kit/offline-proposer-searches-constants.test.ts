import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import { type MoveOutcome, proposeOffline, replayMoves } from "../../../stages/experiment-kit/moves.ts"

const file = `const LEARNING_RATE = 0.01
const HIDDEN = 32
const USE_NORM = false
const OPTIMIZER = "sgd" // one of: "sgd", "adam"
`
const files = new Map([["train.mjs", file]])

const propose = (history: ReadonlyArray<MoveOutcome> = [], directions: Array<{ text: string; constants: Array<string> }> = [], f = files) =>
  proposeOffline({ files: f, directions, history, pending: [], rng: makeRng(1) })

describe("offline proposer", () => {
  it("proposes a real edit of one constant", () => {
    const proposal = propose()!
    expect(proposal.edit.changes).toHaveLength(1)
    const change = proposal.edit.changes[0]!
    expect(change.kind).toBe("replace")
    expect(change.kind === "replace" && file.includes(change.search)).toBe(true)
    expect(proposal.edit.rationale).toContain("offline proposer")
  })

  it("orders moves by the handed-over directions", () => {
    const proposal = propose([], [{ text: "try adaptive optimizers", constants: ["OPTIMIZER"] }, { text: "wider", constants: ["HIDDEN"] }])!
    expect(proposal.move.changes).toEqual([expect.objectContaining({ name: "OPTIMIZER", to: '"adam"' })])
    expect(proposal.edit.direction).toBe("try adaptive optimizers")
  })

  it("never repeats a move at the same point and goes finer once coarse steps are spent", () => {
    const history: Array<MoveOutcome> = []
    const seen = new Set<string>()
    const directions = [{ text: "lr", constants: ["LEARNING_RATE"] }]
    for (let i = 0; i < 4; i++) {
      const proposal = propose(history, directions)!
      const id = `${proposal.move.changes[0]!.name}=${proposal.move.changes[0]!.to}`
      expect(seen.has(id)).toBe(false)
      seen.add(id)
      history.push({ ...proposal.move, delta: -0.1, kept: false })
    }
    expect([...seen]).toEqual(expect.arrayContaining(["LEARNING_RATE=0.02", "LEARNING_RATE=0.005", "LEARNING_RATE=0.0141", "LEARNING_RATE=0.00707"]))
  })

  it("pushes a move that helped further", () => {
    const moved = file.replace("LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02")
    const { history } = replayMoves(
      [
        {
          purpose: "candidate",
          status: "keep",
          baseCommit: "c0",
          resultCommit: "c1",
          improvement: 0.2,
          edit: { direction: "", rationale: "", description: "", changes: [{ path: "train.mjs", kind: "replace", search: "const LEARNING_RATE = 0.01", replace: "const LEARNING_RATE = 0.02" }] },
        },
      ],
      "c0",
      files,
    )
    expect(history).toEqual([expect.objectContaining({ changes: [expect.objectContaining({ name: "LEARNING_RATE", from: "0.01", to: "0.02" })], kept: true, delta: 0.2 })])
    const proposal = propose(history, [], new Map([["train.mjs", moved]]))!
    expect(proposal.move.changes).toEqual([expect.objectContaining({ name: "LEARNING_RATE", from: "0.02", to: "0.04" })])
    expect(proposal.edit.rationale).toContain("push further")
  })

  it("returns undefined when every move has been tried at this point", () => {
    const tiny = new Map([["t.py", "USE_X = True\n"]])
    const first = proposeOffline({ files: tiny, directions: [], history: [], pending: [], rng: makeRng(0) })!
    expect(first.move.changes[0]!.to).toBe("False")
    expect(proposeOffline({ files: tiny, directions: [], history: [{ ...first.move, delta: -1, kept: false }], pending: [], rng: makeRng(0) })).toBeUndefined()
    expect(proposeOffline({ files: tiny, directions: [], history: [], pending: [first.move], rng: makeRng(0) })).toBeUndefined()
  })
})
