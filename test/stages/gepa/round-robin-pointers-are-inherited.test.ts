import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { inheritPointer, makeMemoryStatePort, optimize, selectComponents } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { appendMissingWord, engineLayer, examples, keywordAdapter, reflectionModel } from "./support.ts"

const names = ["system", "format", "style"]

describe("round-robin component selection", () => {
  it("returns the pointed-at component and advances the pointer, wrapping around", () => {
    expect(selectComponents("round-robin", names, 0)).toEqual({ components: ["system"], pointer: 1 })
    expect(selectComponents("round-robin", names, 2)).toEqual({ components: ["style"], pointer: 0 })
  })

  it("selects every component with `all` and leaves the pointer alone", () => {
    expect(selectComponents("all", names, 1)).toEqual({ components: names, pointer: 1 })
  })

  it("gives a child the largest pointer of its parents", () => {
    expect(inheritPointer([1])).toBe(1)
    expect(inheritPointer([0, 2])).toBe(2)
    expect(inheritPointer([])).toBe(0)
  })

  it.effect("in a run, each parent's updates follow its own pointer and children continue from their parent's", () => {
    const model = scriptedModel([appendMissingWord])
    const { adapter } = keywordAdapter()
    const port = makeMemoryStatePort()
    const keywords = ["a1", "a2", "a3", "a4"]
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: [
          ["first", "x"],
          ["second", "y"],
        ],
        trainset: [...examples("f", keywords, "first"), ...examples("s", keywords.map((k) => k.replace("a", "b")), "second")],
        valset: [...examples("vf", keywords, "first"), ...examples("vs", keywords.map((k) => k.replace("a", "b")), "second")],
        state: port,
        reflectionModel,
        budget: { iterations: 12 },
        seed: 3,
      })
      const pointers = new Map<number, number>([[0, 0]])
      const componentNames = ["first", "second"]
      let reflections = 0
      for (const proposal of port.proposals()) {
        if (proposal.kind !== "reflection") continue
        reflections += 1
        const parent = proposal.parents[0]!
        const pointer = pointers.get(parent)!
        expect(proposal.components).toEqual([componentNames[pointer]])
        pointers.set(parent, (pointer + 1) % 2)
        if (proposal.accepted) pointers.set(proposal.childIdx!, pointers.get(parent)!)
      }
      expect(reflections).toBeGreaterThan(4)
      expect(new Set(port.proposals().flatMap((p) => p.components))).toEqual(new Set(componentNames))
      expect(result.candidates.length).toBeGreaterThan(2)
    }).pipe(Effect.provide(engineLayer(model)))
  })
})
