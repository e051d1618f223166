/**
 * A small arithmetic word-problem dataset the project generates itself (data/arithmetic/). Answers are
 * computed, and many problems hide a unit a model may not apply on its own (a score is 20, a gross is
 * 144, a baker's dozen is 13, a fortnight is 14 days), so feedback that names the correct answer and the
 * unit gives reflection a domain fact to fold into the prompt. Deterministic for a seed.
 *
 * Regenerate: `npx tsx stages/gepa/datasets/arithmetic.ts [outDir] [seed]` (default data/arithmetic, 2025).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { makeRng, type Rng } from "../../../src/common/rng.ts"

export interface ArithmeticProblem {
  readonly id: string
  readonly input: string
  readonly answer: string
  readonly explanation: string
}

interface Unit {
  readonly name: string
  readonly plural: string
  readonly size: number
}

const countUnits: ReadonlyArray<Unit> = [
  { name: "dozen", plural: "dozen", size: 12 },
  { name: "baker's dozen", plural: "baker's dozen", size: 13 },
  { name: "score", plural: "score", size: 20 },
  { name: "gross", plural: "gross", size: 144 },
]

const dayUnits: ReadonlyArray<Unit> = [
  { name: "week", plural: "weeks", size: 7 },
  { name: "fortnight", plural: "fortnights", size: 14 },
]

const names = ["Mia", "Omar", "Lena", "Ravi", "Sofia", "Tom", "Aiko", "Jonas", "Priya", "Diego"]
const items = ["eggs", "pencils", "apples", "buttons", "candles", "stamps", "marbles", "bolts"]
const containers = [
  ["crate", "crates"],
  ["box", "boxes"],
  ["bag", "bags"],
  ["tray", "trays"],
] as const

type Template = (rng: Rng) => { input: string; answer: number; explanation: string }

const between = (rng: Rng, low: number, high: number) => low + rng.int(high - low + 1)

const templates: ReadonlyArray<Template> = [
  (rng) => {
    const unit = rng.pick(countUnits.slice(0, 3))
    const count = between(rng, 2, 6)
    const total = count * unit.size
    const used = between(rng, 1, total - 1)
    const [name, item] = [rng.pick(names), rng.pick(items)]
    return {
      input: `${name} buys ${count} ${unit.plural} ${item} and uses ${used} of them. How many ${item} are left?`,
      answer: total - used,
      explanation: `1 ${unit.name} = ${unit.size}, so ${count} ${unit.plural} = ${total}; ${total} - ${used} = ${total - used}.`,
    }
  },
  (rng) => {
    const unit = rng.pick(countUnits)
    const count = unit.size === 144 ? between(rng, 1, 3) : between(rng, 2, 9)
    const item = rng.pick(items)
    return {
      input: `A shop orders ${count} ${unit.plural} ${item}. How many ${item} is that?`,
      answer: count * unit.size,
      explanation: `1 ${unit.name} = ${unit.size}, so ${count} × ${unit.size} = ${count * unit.size}.`,
    }
  },
  (rng) => {
    const unit = rng.pick(dayUnits)
    const pages = between(rng, 3, 15)
    const count = between(rng, 2, 5)
    const name = rng.pick(names)
    const days = count * unit.size
    return {
      input: `${name} reads ${pages} pages every day for ${count} ${unit.plural}. How many pages does ${name} read in total?`,
      answer: pages * days,
      explanation: `1 ${unit.name} = ${unit.size} days, so ${count} ${unit.plural} = ${days} days; ${days} × ${pages} = ${pages * days}.`,
    }
  },
  (rng) => {
    const [container, containersPlural] = rng.pick(containers)
    const perContainer = between(rng, 4, 24)
    const count = between(rng, 3, 12)
    const item = rng.pick(items)
    return {
      input: `Each ${container} holds ${perContainer} ${item}. How many ${item} are in ${count} ${containersPlural}?`,
      answer: perContainer * count,
      explanation: `${count} × ${perContainer} = ${perContainer * count}.`,
    }
  },
  (rng) => {
    const [name, item] = [rng.pick(names), rng.pick(items)]
    const start = between(rng, 20, 90)
    const more = between(rng, 5, 40)
    const given = between(rng, 1, start + more - 1)
    return {
      input: `${name} has ${start} ${item}, gets ${more} more, then gives away ${given}. How many ${item} does ${name} have now?`,
      answer: start + more - given,
      explanation: `${start} + ${more} - ${given} = ${start + more - given}.`,
    }
  },
  (rng) => {
    const friends = between(rng, 2, 8)
    const each = between(rng, 3, 15)
    const item = rng.pick(items)
    return {
      input: `${friends} friends share ${friends * each} ${item} equally. How many ${item} does each friend get?`,
      answer: each,
      explanation: `${friends * each} ÷ ${friends} = ${each}.`,
    }
  },
]

/** `count` problems with ids `${prefix}-0001`…, drawn from the seeded generator. */
export const generateArithmeticProblems = (seed: number, count: number, prefix = "arith"): Array<ArithmeticProblem> => {
  const rng = makeRng(seed)
  return Array.from({ length: count }, (_, index) => {
    const problem = rng.pick(templates)(rng)
    return { id: `${prefix}-${String(index + 1).padStart(4, "0")}`, input: problem.input, answer: String(problem.answer), explanation: problem.explanation }
  })
}

export const defaultArithmeticSeed = 2025
export const arithmeticSplitSizes = { train: 40, val: 40 } as const

/** The shipped dataset: train and val drawn from one stream (so no problem is in both). */
export const generateArithmeticDataset = (seed = defaultArithmeticSeed) => {
  const problems = generateArithmeticProblems(seed, arithmeticSplitSizes.train + arithmeticSplitSizes.val)
  return { train: problems.slice(0, arithmeticSplitSizes.train), val: problems.slice(arithmeticSplitSizes.train) }
}

export const toJsonl = (records: ReadonlyArray<unknown>): string => records.map((record) => JSON.stringify(record)).join("\n") + "\n"

export const writeArithmeticDataset = (outDir: string, seed = defaultArithmeticSeed): void => {
  const { train, val } = generateArithmeticDataset(seed)
  fs.mkdirSync(outDir, { recursive: true })
  fs.writeFileSync(path.join(outDir, "train.jsonl"), toJsonl(train))
  fs.writeFileSync(path.join(outDir, "val.jsonl"), toJsonl(val))
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../data/arithmetic")
  writeArithmeticDataset(outDir, process.argv[3] === undefined ? defaultArithmeticSeed : Number(process.argv[3]))
  console.log(`wrote ${path.join(outDir, "train.jsonl")} and val.jsonl`)
}
