/**
 * Candidates as the engine sees them: ordered named text components (the seed's key order is kept
 * everywhere) and their content hash, which keys the evaluation cache.
 */
import { sha256 } from "../../src/common/hash.ts"
import type { Components } from "../../src/domain/Candidate.ts"

export type { Components }

/** A seed as users write it: ordered `[name, text]` pairs, or a record (insertion order is the order). */
export type ComponentsInput = Components | Readonly<Record<string, string>>

export const toComponents = (input: ComponentsInput): Components =>
  Array.isArray(input)
    ? (input as Components).map(([name, text]) => [name, text] as const)
    : Object.entries(input as Readonly<Record<string, string>>).map(([name, text]) => [name, text] as const)

/** sha256 of the canonical JSON of the ordered pairs: equal texts in equal order hash equally. */
export const candidateHash = (components: Components): string => sha256(JSON.stringify(components.map(([name, text]) => [name, text])))

export const componentNames = (components: Components): Array<string> => components.map(([name]) => name)

export const componentText = (components: Components, name: string): string | undefined => components.find(([key]) => key === name)?.[1]

/** The same components with some texts replaced; names not in `components` are ignored. */
export const withTexts = (components: Components, texts: Readonly<Record<string, string>>): Components =>
  components.map(([name, text]) => [name, Object.hasOwn(texts, name) ? texts[name]! : text] as const)

/** Why a seed cannot be optimized, or undefined when it can. */
export const seedProblem = (components: Components): string | undefined => {
  if (components.length === 0) return "the seed candidate has no components"
  const seen = new Set<string>()
  for (const [name, text] of components) {
    if (typeof name !== "string" || name.length === 0) return "every seed component needs a non-empty name"
    if (typeof text !== "string") return `seed component ${JSON.stringify(name)} is not a string`
    if (seen.has(name)) return `seed component ${JSON.stringify(name)} appears twice`
    seen.add(name)
  }
  return undefined
}
