/**
 * Which components a reflective iteration rewrites. Round-robin: every candidate keeps a pointer into the
 * component names; selecting it as a parent returns the pointed-at name and advances its pointer, and a
 * new child starts with the largest pointer of its parents. `all`: every component, pointer untouched.
 */

export type ComponentSelector = "round-robin" | "all"

export interface ComponentChoice {
  readonly components: ReadonlyArray<string>
  /** The parent's pointer after this selection. */
  readonly pointer: number
}

export const selectComponents = (selector: ComponentSelector, names: ReadonlyArray<string>, pointer: number): ComponentChoice => {
  if (selector === "all") return { components: [...names], pointer }
  const current = pointer % names.length
  return { components: [names[current]!], pointer: (current + 1) % names.length }
}

export const inheritPointer = (parentPointers: ReadonlyArray<number>): number => (parentPointers.length === 0 ? 0 : Math.max(...parentPointers))
