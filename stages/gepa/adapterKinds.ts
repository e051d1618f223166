/**
 * The adapters the `gepa` stage kind can run, keyed by `adapter.kind` in the stage options. The registry
 * lives on globalThis (like the stage-kind registry) so that a config loaded through jiti sees the same
 * table. Registering an adapter kind is done through `registerGepaAdapterKind` in `stage.ts`, which also
 * re-registers the stage kind with the extended options schema.
 */
import type { Effect, Schema } from "effect"
import type { Handoff } from "../../src/domain/Handoff.ts"
import type { PreflightContext, PreflightFinding, StageContext, StageRunError, StageServices } from "../../src/pipeline/StageKind.ts"
import type { GepaAdapter, GepaExample } from "./adapter.ts"
import type { Components, ComponentsInput } from "./candidate.ts"

export interface PreparedAdapter<Example extends GepaExample = GepaExample> {
  readonly adapter: GepaAdapter<Example, StageRunError, StageServices>
  readonly trainset: ReadonlyArray<Example>
  readonly valset: ReadonlyArray<Example>
  readonly seedCandidate: ComponentsInput
  /** The handoff's `instructions` for the best candidate (default: its components as Markdown sections). */
  readonly instructions?: (best: Components) => string
  /** More of the handoff for the best candidate (e.g. the research adapter's directions with evidence). */
  readonly handoff?: (best: Components) => Effect.Effect<Partial<Handoff> & Record<string, unknown>, StageRunError, StageServices>
}

/**
 * An adapter kind: its options schema (a Struct whose `kind` is a literal; unknown keys are rejected by
 * the config decoder) and `prepare`, which builds the adapter, datasets and seed from the stage context.
 * `prepare` fails with StageFailed when the options cannot work (missing files, an uncallable model).
 */
export interface GepaAdapterKind<Fields extends Schema.Struct.Fields = Schema.Struct.Fields> {
  readonly kind: string
  readonly options: Schema.Struct<Fields>
  readonly prepare: (
    options: Schema.Struct<Fields>["Type"],
    context: StageContext<unknown>,
  ) => Effect.Effect<PreparedAdapter<any>, StageRunError, StageServices>
  /** The sizes of the train and validation sets these options give, when known before the run (for the budget). */
  readonly sizes?: (options: Schema.Struct<Fields>["Type"], context: PreflightContext<unknown>) => { readonly train: number; readonly val: number } | undefined
  /** Pre-flight findings about these options (see StageKind.preflight); `context.at` is the stage entry's path. */
  readonly preflight?: (options: Schema.Struct<Fields>["Type"], context: PreflightContext<unknown>) => ReadonlyArray<PreflightFinding>
}

const registryKey = Symbol.for("twoloop.gepaAdapterKinds")

export const adapterKindRegistry = (): Map<string, GepaAdapterKind<any>> => {
  const global = globalThis as { [registryKey]?: Map<string, GepaAdapterKind<any>> }
  return (global[registryKey] ??= new Map())
}
