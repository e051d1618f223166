import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type GepaAdapter, makeMemoryStatePort, optimize } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { engineLayer, reflectionModel } from "./support.ts"

interface Check {
  readonly id: string
  readonly passes: (first: string, second: string) => boolean
}

const hasWord = (text: string, word: string) => text.split(" ").includes(word)

// Only the seed's children can improve: "first" gains "a", "second" gains "b"; the seed alone wins v2.
const valset: Array<Check> = [
  { id: "v0", passes: (first) => hasWord(first, "a") },
  { id: "v1", passes: (_, second) => hasWord(second, "b") },
  { id: "v2", passes: (first) => first === "x" },
  { id: "v3", passes: (first) => hasWord(first, "a") },
  { id: "v4", passes: (_, second) => hasWord(second, "b") },
]
const trainset: Array<Check> = [
  { id: "t0", passes: (first) => hasWord(first, "a") },
  { id: "t1", passes: (_, second) => hasWord(second, "b") },
  { id: "t2", passes: (first) => hasWord(first, "a") },
]

const adapter: GepaAdapter<Check> = {
  evaluate: (batch, candidate) => batch.map((check) => ({ score: check.passes(candidate[0]![1], candidate[1]![1]) ? 1 : 0, output: null, trajectory: { check: check.id } })),
  makeReflectiveDataset: (_candidate, evaluations, names) =>
    Object.fromEntries(names.map((name) => [name, evaluations.map((e) => ({ Inputs: e.example.id, "Generated Outputs": e.score, Feedback: "" }))])),
  proposeNewTexts: (candidate, _dataset, names): Record<string, string> => {
    const [first, second] = [candidate[0]![1], candidate[1]![1]]
    if (names[0] === "first") return { first: second === "y" ? `${first} a` : `${first} q` }
    return { second: first === "x" ? `${second} b` : `${second} z` }
  },
}

describe("merge in a run", () => {
  it.effect("merges the two lineages of the seed into one child with two parents, once", () => {
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: [
          ["first", "x"],
          ["second", "y"],
        ],
        trainset,
        valset,
        state: port,
        reflectionModel,
        budget: { iterations: 14 },
        merge: { enabled: true, maxMerges: 3 },
        seed: 1,
      })
      const merged = result.candidates.filter((c) => c.origin === "merge")
      expect(merged).toHaveLength(1)
      const child = merged[0]!
      const [a, b] = child.parents.map((index) => result.candidates[index]!)
      expect(new Set([a!.components[0]![1], b!.components[0]![1]])).toEqual(new Set(["x a", "x"]))
      expect(new Set([a!.components[1]![1], b!.components[1]![1]])).toEqual(new Set(["y", "y b"]))
      expect(child.components).toEqual([
        ["first", "x a"],
        ["second", "y b"],
      ])
      expect(Object.fromEntries(child.valScores)).toEqual({ v0: 1, v1: 1, v2: 0, v3: 1, v4: 1 })
      expect(result.best.idx).toBe(child.idx)

      const proposal = port.proposals().find((p) => p.kind === "merge")!
      expect(proposal).toMatchObject({ accepted: true, childIdx: child.idx, sumAfter: 4, sumBefore: 3 })
      expect([...proposal.minibatch].sort()).toEqual(["v0", "v1", "v2", "v3", "v4"])
      const before = port.proposals()[port.proposals().indexOf(proposal) - 1]!
      expect(before).toMatchObject({ kind: "reflection", accepted: true })
      // the gate ids are validation ids the full validation then reuses from the cache
      expect(child.metricCalls).toBe(proposal.metricCalls)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"]))))
  })

  it.effect("charges a merge its gate and a full validation at gepa's count", () => {
    const port = makeMemoryStatePort()
    return Effect.gen(function* () {
      yield* optimize({
        adapter,
        seedCandidate: [
          ["first", "x"],
          ["second", "y"],
        ],
        trainset,
        valset,
        state: port,
        reflectionModel,
        budget: { iterations: 14, accounting: "reference" },
        merge: { enabled: true, maxMerges: 3 },
        seed: 1,
      })
      const proposals = port.proposals()
      const merge = proposals.findIndex((p) => p.kind === "merge")
      expect(proposals[merge]!.accepted).toBe(true)
      expect(proposals[merge]!.metricCalls - proposals[merge - 1]!.metricCalls).toBe(5 + valset.length)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"]))))
  })

  // As in the reference, descendants sharing fewer than 5 validation ids are not merged; the floor is an option.
  it.effect("merges candidates sharing fewer than 5 validation ids only when minSharedValidation allows it", () =>
    Effect.gen(function* () {
      const run = (minSharedValidation: number | undefined) =>
        optimize({
          adapter,
          seedCandidate: [
            ["first", "x"],
            ["second", "y"],
          ],
          trainset,
          valset: valset.slice(0, 4),
          reflectionModel,
          budget: { iterations: 14 },
          merge: { enabled: true, maxMerges: 3, ...(minSharedValidation !== undefined ? { minSharedValidation } : {}) },
          seed: 1,
        })
      expect((yield* run(undefined)).candidates.filter((c) => c.origin === "merge")).toHaveLength(0)
      expect((yield* run(4)).candidates.filter((c) => c.origin === "merge")).toHaveLength(1)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"])))))

  it.effect("never merges when merging is off", () => {
    return Effect.gen(function* () {
      const result = yield* optimize({
        adapter,
        seedCandidate: [
          ["first", "x"],
          ["second", "y"],
        ],
        trainset,
        valset,
        reflectionModel,
        budget: { iterations: 14 },
        seed: 1,
      })
      expect(result.candidates.some((c) => c.origin === "merge")).toBe(false)
      expect(result.best.mean).toBe(0.6)
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"]))))
  })
})
