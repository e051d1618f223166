// Types of synthetic.mjs (the harness is plain JS so target projects run it with node alone).
export declare const FULL_BUDGET_SECONDS: number
export interface Constant {
  readonly name: string
  readonly value: number | string
  readonly comment?: string
}
export type Range = { readonly choices: ReadonlyArray<number | string> } | { readonly low: number; readonly high: number; readonly log?: boolean; readonly int?: boolean }
export type Outcome = { readonly loss: number } | { readonly crash: string } | { readonly diverged: true }
export interface Target {
  readonly name: string
  readonly title: string
  readonly constants: ReadonlyArray<Constant>
  readonly objective: (params: Record<string, number | string | boolean>, fidelity: number) => Outcome
  readonly space: Readonly<Record<string, Range>>
}
export declare const targets: ReadonlyArray<Target>
export declare const targetNamed: (name: string) => Target
export declare const defaultsOf: (target: Target) => Record<string, number | string>
export declare const noiseFreeLoss: (target: Target, params: Record<string, number | string | boolean>, fidelity?: number) => number
export declare const measuredLoss: (target: Target, params: Record<string, number | string | boolean>, fidelity: number, seed: number) => Outcome
export declare const run: (name: string, constants: Record<string, number | string | boolean>) => void
export declare const trainScript: (target: Target) => string
