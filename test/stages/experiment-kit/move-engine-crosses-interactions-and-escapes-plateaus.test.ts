import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import { applyChanges } from "../../../stages/experiment-kit/edits.ts"
import { type Assignment, explicitAssignments, inertTunables, moveKey, type MoveOutcome, movedBetween, rankProposals, replayMoves, staleEvidence } from "../../../stages/experiment-kit/moves.ts"
import { changesOfEdit, findTunables, pointSignature } from "../../../stages/experiment-kit/tunables/index.ts"

const script = `const OPTIMIZER = "sgd" // one of: "sgd", "adam"
const LEARNING_RATE = 0.1
const WEIGHT_DECAY = 0.0
const WARMUP_STEPS = 0
const MOMENTUM = 0.9
const HIDDEN = 64
`
const files = new Map([["train.mjs", script]])
const point = pointSignature(findTunables(files))
const move = (changes: ReadonlyArray<Pick<Assignment, "name" | "from" | "to">>, delta: number | null, at = point): MoveOutcome => ({ point: at, changes: changes.map((c) => ({ file: "train.mjs", ...c })), delta, kept: false })
const rank = (history: ReadonlyArray<MoveOutcome>, noise = 0.01, directions: Array<{ text: string; constants: Array<string> }> = []) =>
  rankProposals({ files, directions, history, pending: [], rng: makeRng(3), noise })
const keys = (proposals: ReturnType<typeof rank>) => proposals.map((p) => moveKey(p.move.changes))
const key = (...pairs: Array<[string, string]>) => moveKey(pairs.map(([name, to]) => ({ name, to })))

describe("the move engine", () => {
  it("gives a setting that is 0 a ladder of small values, where scaling could never move it", () => {
    const all = keys(rank([]))
    for (const to of ["0.001", "0.01", "0.1"]) expect(all).toContain(key(["WEIGHT_DECAY", to]))
    for (const to of ["1", "10", "100"]) expect(all).toContain(key(["WARMUP_STEPS", to]))
  })

  it("retries a switch that crashed with the learning rate rescaled, before blind coarse moves, going smaller step by step", () => {
    const crashed = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }], null)
    const proposals = rank([crashed])
    const isRetry = (k: string) => k.includes("OPTIMIZER") && k.includes("LEARNING_RATE")
    expect(keys(proposals)[0]).toBe(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.01"]))
    expect(proposals[0]!.edit.rationale).toMatch(/crashed; retry it with LEARNING_RATE ×0\.1/)
    // ×0.01 only once ×0.1 was tried and crashed as well
    expect(keys(proposals).filter(isRetry)).toEqual([key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.01"])])
    const tenth = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { name: "LEARNING_RATE", from: "0.1", to: "0.01" }], null)
    expect(keys(rank([crashed, tenth]))[0]).toBe(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.001"]))
    // the compound edit changes both lines and nothing else
    const applied = applyChanges(files, proposals[0]!.edit.changes)
    expect(applied.ok && changesOfEdit(files, proposals[0]!.edit.changes).map((c) => c.name).sort()).toEqual(["LEARNING_RATE", "OPTIMIZER"])
    // a switch that merely hurt is retried ×0.1 and ×10 among the ordinary moves, not ahead of them
    const plain = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }], -0.2)
    const hurt = keys(rank([plain]))
    expect(hurt.filter(isRetry).sort()).toEqual([key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "1.0"]), key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.01"])].sort())
    expect(isRetry(hurt[0]!)).toBe(false)
    // ×0.01 follows a ×0.1 retry that did better than the plain switch, not one that did worse
    const better = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { name: "LEARNING_RATE", from: "0.1", to: "0.01" }], -0.05)
    const worse = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { name: "LEARNING_RATE", from: "0.1", to: "0.01" }], -0.5)
    expect(keys(rank([plain, better]))).toContain(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.001"]))
    expect(keys(rank([plain, worse]))).not.toContain(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.001"]))
  })

  it("stops retrying a switch once its rescaled retries all failed, also after the incumbent moved on", () => {
    const elsewhere = "an earlier incumbent"
    const crashed = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }], null, elsewhere)
    const retry = (lr: string, delta: number | null) => move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { name: "LEARNING_RATE", from: "0.2", to: lr }], delta, elsewhere)
    const isRetry = (k: string) => k.includes("OPTIMIZER") && k.includes("LEARNING_RATE")
    // One retry failed: the others are still proposed here, at the new point.
    expect(keys(rank([crashed, retry("0.02", -0.3)])).filter(isRetry)).toHaveLength(2)
    // Both factors failed (a crash allows ×0.1 and ×0.01): the switch is refuted, no retry is made again.
    expect(keys(rank([crashed, retry("0.02", -0.3), retry("0.002", null)])).filter(isRetry)).toEqual([])
    // The plain switch is still there, after the moves that did not hurt.
    const plain = keys(rank([crashed, retry("0.02", -0.3), retry("0.002", null)]))
    expect(plain).toContain(key(["OPTIMIZER", '"adam"']))
    expect(plain.indexOf(key(["OPTIMIZER", '"adam"']))).toBeGreaterThan(plain.indexOf(key(["HIDDEN", "128"])))
  })

  it("recognises tunables whose moves never left the noise as inert and tries them last", () => {
    const history = [move([{ name: "MOMENTUM", from: "0.9", to: "1.8" }], 0.004), move([{ name: "MOMENTUM", from: "0.9", to: "0.45" }], -0.006)]
    expect([...inertTunables(history, 0.01)]).toEqual(["MOMENTUM"])
    const proposals = rank(history)
    const firstInert = proposals.findIndex((p) => p.move.changes.some((c) => c.name === "MOMENTUM"))
    expect(firstInert).toBeGreaterThan(0)
    expect(proposals.slice(firstInert).every((p) => p.move.changes.every((c) => c.name === "MOMENTUM"))).toBe(true)
    expect(proposals[firstInert]!.edit.rationale).toContain("no more than the noise")
    // with the noise unknown nothing is called inert
    expect(inertTunables(history, 0).size).toBe(0)
  })

  it("combines moves that each helped a little into one move", () => {
    const history = [move([{ name: "HIDDEN", from: "64", to: "128" }], 0.006), move([{ name: "LEARNING_RATE", from: "0.1", to: "0.2" }], 0.008), move([{ name: "WEIGHT_DECAY", from: "0.0", to: "0.1" }], -0.02)]
    const combined = rank(history).find((p) => p.move.changes.length === 2 && p.edit.rationale.includes("combine"))
    expect(combined && moveKey(combined.move.changes)).toBe(key(["HIDDEN", "128"], ["LEARNING_RATE", "0.2"]))
  })

  it("perturbs several tunables at once when single moves stopped clearing the gate here", () => {
    const tunables = findTunables(files)
    const failed: Array<MoveOutcome> = []
    for (const tunable of tunables) {
      const options = tunable.value.kind === "number" ? (tunable.value.value === 0 ? ["0.001", "0.01", "0.1", "1", "10", "100"] : ["x2", "x0.5"]) : tunable.alternatives.map((a) => tunable.format(a))
      for (const option of options) {
        const to = option === "x2" ? String(tunable.value.value as number * 2) : option === "x0.5" ? String((tunable.value.value as number) / 2) : option
        failed.push(move([{ name: tunable.name, from: tunable.value.text, to }], -0.05))
      }
    }
    const before = rank(failed.slice(0, 2)).filter((p) => p.edit.rationale.includes("perturb"))
    expect(before).toEqual([])
    const stuck = rank(failed).filter((p) => p.edit.rationale.includes("perturb"))
    expect(stuck.length).toBeGreaterThan(0)
    expect(stuck[0]!.move.changes.length).toBeGreaterThanOrEqual(2)
  })

  it("carries out `set` directions exactly and first, unless their evidence or a failed run refutes them", () => {
    const directions = [
      { text: "tune HIDDEN", constants: ["HIDDEN"] },
      { text: 'set OPTIMIZER="adam", LEARNING_RATE=0.003 (helped)', constants: ["OPTIMIZER", "LEARNING_RATE"] },
    ]
    expect(explicitAssignments(directions[1]!.text, findTunables(files))!.map((a) => [a.name, a.to])).toEqual([
      ["OPTIMIZER", '"adam"'],
      ["LEARNING_RATE", "0.003"],
    ])
    const first = rank([], 0.01, directions)[0]!
    expect(moveKey(first.move.changes)).toBe(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.003"]))
    // measured at a proxy budget without helping: no longer an order
    const refuted = [{ ...directions[1]!, evidence: { tries: 2, meanDelta: -0.01, crashes: 0 } }]
    expect(moveKey(rank([], 0.01, refuted)[0]!.move.changes)).not.toBe(key(["OPTIMIZER", '"adam"'], ["LEARNING_RATE", "0.003"]))
    // tried here and failed (it did not hold at this budget): its direction ranks after the others
    const failed = move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { name: "LEARNING_RATE", from: "0.1", to: "0.003" }], -0.02)
    const after = rank([failed], 0.01, [directions[1]!, directions[0]!])
    expect(after[0]!.move.changes.map((c) => c.name)).toEqual(["HIDDEN"])
  })

  it("does not jump the queue to undo a kept move: neither a `set` direction a later keep moved past, nor retries of a switch back", () => {
    // The handed-over direction set HIDDEN=64 with LEARNING_RATE=0.2; a later keep moved LEARNING_RATE 0.2 → 0.1.
    const at = (lr: string, hidden: string) => pointSignature(findTunables(new Map([["train.mjs", script.replace("LEARNING_RATE = 0.1", `LEARNING_RATE = ${lr}`).replace("HIDDEN = 64", `HIDDEN = ${hidden}`)]])))
    const kept = (changes: ReadonlyArray<Pick<Assignment, "name" | "from" | "to">>, from: string): MoveOutcome => ({ ...move(changes, 0.05, from), kept: true })
    const history = [kept([{ name: "LEARNING_RATE", from: "0.2", to: "0.1" }], at("0.2", "32"))]
    const direction = [{ text: "set LEARNING_RATE=0.2, HIDDEN=32 (helped at the proxy budget)", constants: ["LEARNING_RATE", "HIDDEN"] }]
    const directed = rank(history, 0.01, direction)
    expect(directed[0]!.edit.rationale).not.toContain("a move the directions name")
    expect(keys(directed)).not.toContain(key(["LEARNING_RATE", "0.2"], ["HIDDEN", "32"]))
    // without that keep the same direction is carried out first
    expect(moveKey(rank([], 0.01, direction)[0]!.move.changes)).toBe(key(["LEARNING_RATE", "0.2"], ["HIDDEN", "32"]))
    // OPTIMIZER "adam" → "sgd" was kept; switching back hurt: no learning-rate-rescaled retries of the switch back
    const switchedBack = [kept([{ name: "OPTIMIZER", from: '"adam"', to: '"sgd"' }], "earlier"), move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }], -0.05)]
    expect(keys(rank(switchedBack)).filter((k) => k.includes("OPTIMIZER") && k.includes("LEARNING_RATE"))).toEqual([])
    // a switch that hurt without undoing a keep is retried as before
    expect(keys(rank([switchedBack[1]!])).filter((k) => k.includes("OPTIMIZER") && k.includes("LEARNING_RATE")).length).toBeGreaterThan(0)
  })

  it("does not carry out a `set` direction on a tunable a keep moved since: its evidence was measured from the old value", () => {
    // Measured at the base point (sgd, LEARNING_RATE 0.1): momentum helped, LEARNING_RATE 0.5 helped, WEIGHT_DECAY 0.01 helped.
    // Then the switch to adam with LEARNING_RATE ×0.1 was kept.
    const directions = [
      { text: 'set OPTIMIZER="momentum" (helped)', constants: ["OPTIMIZER"] },
      { text: "set LEARNING_RATE=0.5 (helped)", constants: ["LEARNING_RATE"] },
      { text: "set WEIGHT_DECAY=0.01 (helped)", constants: ["WEIGHT_DECAY"] },
    ]
    const scriptWith = script.replace('"sgd" // one of: "sgd", "adam"', '"adam" // one of: "sgd", "adam", "momentum"')
    const base = new Map([["train.mjs", script.replace('"sgd", "adam"', '"sgd", "adam", "momentum"')]])
    const now = new Map([["train.mjs", scriptWith.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.01")]])
    const keep: MoveOutcome = {
      point: pointSignature(findTunables(base)),
      changes: [{ file: "train.mjs", name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }, { file: "train.mjs", name: "LEARNING_RATE", from: "0.1", to: "0.01" }],
      delta: 0.3,
      kept: true,
    }
    const ranked = rankProposals({ files: now, directions, history: [keep], pending: [], rng: makeRng(3), noise: 0.01 })
    // The untouched tunable's `set` is still carried out first; the two the keep moved are not carried out as set.
    expect(moveKey(ranked[0]!.move.changes)).toBe(key(["WEIGHT_DECAY", "0.01"]))
    expect(ranked.filter((p) => p.edit.rationale.includes("a move the directions name")).map((p) => moveKey(p.move.changes))).toEqual([key(["WEIGHT_DECAY", "0.01"])])
    expect(keys(ranked)).not.toContain(key(["LEARNING_RATE", "0.5"]))
    // Before that keep, all three are carried out first, in the directions' order.
    const before = rankProposals({ files: base, directions, history: [], pending: [], rng: makeRng(3), noise: 0.01 })
    expect(keys(before).slice(0, 3)).toEqual([key(["OPTIMIZER", '"momentum"']), key(["LEARNING_RATE", "0.5"]), key(["WEIGHT_DECAY", "0.01"])])
    // A keep that switched the optimizer alone makes a learning rate measured before it stale too (they couple),
    // but not a weight decay.
    const switched: MoveOutcome = { ...keep, changes: [keep.changes[0]!] }
    const onAdam = new Map([["train.mjs", scriptWith]])
    const afterSwitch = rankProposals({ files: onAdam, directions: directions.slice(1), history: [switched], pending: [], rng: makeRng(3), noise: 0.01 })
    expect(afterSwitch.filter((p) => p.edit.rationale.includes("a move the directions name")).map((p) => moveKey(p.move.changes))).toEqual([key(["WEIGHT_DECAY", "0.01"])])
    // And the other way round: a keep that raised the learning rate alone makes the switch to momentum measured
    // before it stale (momentum at the new rate is another step size), but not the weight decay.
    const raised: MoveOutcome = { ...keep, changes: [{ file: "train.mjs", name: "LEARNING_RATE", from: "0.1", to: "0.5" }] }
    const onFaster = new Map([["train.mjs", base.get("train.mjs")!.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.5")]])
    const afterRaise = rankProposals({ files: onFaster, directions: [directions[0]!, directions[2]!], history: [raised], pending: [], rng: makeRng(3), noise: 0.01 })
    expect(afterRaise.filter((p) => p.edit.rationale.includes("a move the directions name")).map((p) => moveKey(p.move.changes))).toEqual([key(["WEIGHT_DECAY", "0.01"])])
  })

  it("tells when evidence measured before some keeps no longer speaks for a move", () => {
    const base = findTunables(files)
    const now = findTunables(new Map([["train.mjs", script.replace('"sgd" //', '"adam" //').replace("HIDDEN = 64", "HIDDEN = 128")]]))
    const moved = movedBetween(base, now)
    expect(moved).toEqual([
      { name: "OPTIMIZER", categorical: true },
      { name: "HIDDEN", categorical: false },
    ])
    const number = (name: string) => ({ name, categorical: false })
    const choice = (name: string) => ({ name, categorical: true })
    expect(staleEvidence([number("HIDDEN")], moved)).toBe("a keep moved HIDDEN since it was measured")
    expect(staleEvidence([number("LEARNING_RATE")], moved)).toBe("LEARNING_RATE was measured with OPTIMIZER at its earlier value")
    // a weight decay does not couple with the switch, and a learning rate is not stale when no choice switched
    expect(staleEvidence([number("WEIGHT_DECAY")], moved)).toBeUndefined()
    const widened = movedBetween(base, findTunables(new Map([["train.mjs", script.replace("HIDDEN = 64", "HIDDEN = 128")]])))
    expect(staleEvidence([number("LEARNING_RATE")], widened)).toBeUndefined()
    expect(staleEvidence([], moved)).toBeUndefined()
    // The other side of the coupling: a switch of choice measured before a kept step-size change is stale,
    // one measured before a kept change of anything else is not.
    const faster = movedBetween(base, findTunables(new Map([["train.mjs", script.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.5")]])))
    expect(staleEvidence([choice("OPTIMIZER")], faster)).toBe("OPTIMIZER was measured with LEARNING_RATE at its earlier value")
    expect(staleEvidence([choice("OPTIMIZER")], widened)).toBeUndefined()
    expect(staleEvidence([number("WEIGHT_DECAY")], faster)).toBeUndefined()
  })

  it("pushes a kept move further first, but not a push that already failed at an earlier point", () => {
    // HIDDEN 32 → 64 was kept; here (HIDDEN 64) its push to 128 comes first.
    const keptHidden: MoveOutcome = { ...move([{ name: "HIDDEN", from: "32", to: "64" }], 0.05, "HIDDEN 32"), kept: true }
    const first = rank([keptHidden])[0]!
    expect(moveKey(first.move.changes)).toBe(key(["HIDDEN", "128"]))
    expect(first.edit.rationale).toContain("push further")
    // The same push failed at an earlier point (before another keep moved the incumbent): no longer first,
    // and behind the moves that never failed; it is still there to try.
    const failedPush = move([{ name: "HIDDEN", from: "64", to: "128" }], -0.03, "before LEARNING_RATE moved")
    const ranked = keys(rank([keptHidden, failedPush]))
    expect(ranked[0]).not.toBe(key(["HIDDEN", "128"]))
    expect(ranked.indexOf(key(["HIDDEN", "128"]))).toBeGreaterThan(ranked.indexOf(key(["LEARNING_RATE", "0.2"])))
  })

  it("gives a tunable the directions rank low its first move before one they rank high gets more", () => {
    const directions = [
      { text: "tune HIDDEN", constants: ["HIDDEN"] },
      { text: "tune LEARNING_RATE", constants: ["LEARNING_RATE"] },
    ]
    // nothing tried yet: the directions' order
    expect(rank([], 0.01, directions)[0]!.move.changes[0]!.name).toBe("HIDDEN")
    // HIDDEN ×2 failed at an earlier point (before another keep moved the incumbent here): LEARNING_RATE,
    // untried, goes before HIDDEN's other moves
    const earlier = move([{ name: "HIDDEN", from: "64", to: "128" }], -0.02, "an earlier incumbent")
    const ranked = rank([earlier], 0.01, directions)
    expect(ranked[0]!.move.changes[0]!.name).toBe("LEARNING_RATE")
    expect(keys(ranked)).toContain(key(["HIDDEN", "32"]))
  })

  it("replays a compound edit as one move with both assignments", () => {
    const edit = { direction: "", rationale: "", description: "", changes: rank([move([{ name: "OPTIMIZER", from: '"sgd"', to: '"adam"' }], null)])[0]!.edit.changes }
    const { history } = replayMoves([{ purpose: "candidate", status: "discard", baseCommit: "c0", resultCommit: null, edit, improvement: -0.1 }], "c0", files)
    expect(history).toHaveLength(1)
    expect(history[0]!.changes.map((c) => c.name).sort()).toEqual(["LEARNING_RATE", "OPTIMIZER"])
  })
})
