/**
 * The config contract users write in `pipeline.config.ts`: `defineConfig` (an identity function), the
 * schema the file is decoded with, and the resolved form the pipeline runs on. Light on purpose: imports
 * nothing but effect's Schema, so a config file can import it cheaply.
 *
 * Decoding never throws: it returns the resolved config or a one-line message naming the key path.
 */
import { Exit, Schema } from "effect"
import * as path from "node:path"
import { strictParseOptions, summarizeIssue, suggestName } from "./domain/schemaIssues.ts"

// ---------------------------------------------------------------------------------------------------------
// Building blocks shared with stage option schemas

export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0, { expected: "a positive integer" }))
export const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a non-negative integer" }))
export const PositiveNumber = Schema.Finite.check(Schema.isGreaterThan(0, { expected: "a positive number" }))
export const NonNegativeNumber = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a non-negative number" }))
export const NonEmptyString = Schema.String.check(Schema.isMinLength(1, { expected: "a non-empty string" }))

export type ModelSpec =
  | { readonly provider: "offline" }
  | { readonly provider: "openai"; readonly modelId: string }
  | { readonly provider: "openai-compatible"; readonly modelId: string; readonly baseURL: string }

/** Parses `offline`, `openai:<id>` or `openai-compatible:<id>@<baseURL>`; undefined when malformed. */
export const parseModelSpec = (text: string): ModelSpec | undefined => {
  if (text === "offline") return { provider: "offline" }
  if (text.startsWith("openai:")) {
    const modelId = text.slice("openai:".length)
    return modelId.length > 0 ? { provider: "openai", modelId } : undefined
  }
  if (text.startsWith("openai-compatible:")) {
    const rest = text.slice("openai-compatible:".length)
    const at = rest.indexOf("@")
    if (at <= 0) return undefined
    const baseURL = rest.slice(at + 1)
    if (!/^https?:\/\/[^\s]+$/.test(baseURL)) return undefined
    return { provider: "openai-compatible", modelId: rest.slice(0, at), baseURL }
  }
  return undefined
}

export const ModelString = Schema.String.check(
  Schema.makeFilter((text: string) => parseModelSpec(text) !== undefined, {
    expected: `"offline", "openai:<model>" or "openai-compatible:<model>@<http(s) base URL>"`,
  }),
)

export const MetricDirection = Schema.Literals(["minimize", "maximize"])
export type MetricDirection = typeof MetricDirection.Type

const MetricName = Schema.String.check(
  Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_.\-]*$/, { expected: "a metric name such as val_bpb" }),
)

export const TargetConfig = Schema.Struct({
  dir: NonEmptyString,
  editable: Schema.NonEmptyArray(NonEmptyString),
  readonly: Schema.optional(Schema.Array(NonEmptyString)),
  command: NonEmptyString,
  metric: Schema.Struct({ name: MetricName, direction: MetricDirection }),
  timeBudgetSeconds: PositiveNumber,
  env: Schema.optional(Schema.Record(Schema.String, Schema.String)),
})

const GpuSlots = Schema.Union([
  Schema.Literals(["auto", "none"]),
  Schema.NonEmptyArray(NonNegativeInt),
])

export const LocalExecutorConfig = Schema.Struct({
  kind: Schema.Literal("local"),
  gpus: Schema.optional(GpuSlots),
  cpuSlots: Schema.optional(PositiveInt),
  sandbox: Schema.optional(Schema.Literals(["none", "bwrap"])),
})

export const SlurmExecutorConfig = Schema.Struct({
  kind: Schema.Literal("slurm"),
  partition: Schema.optional(NonEmptyString),
  /** Generic resources per job, e.g. "gpu:1". */
  gres: Schema.optional(NonEmptyString),
  cpusPerTask: Schema.optional(PositiveInt),
  /** Memory per job as sbatch takes it, e.g. "16G". */
  mem: Schema.optional(NonEmptyString),
  account: Schema.optional(NonEmptyString),
  qos: Schema.optional(NonEmptyString),
  extraArgs: Schema.optional(Schema.Array(NonEmptyString)),
  /** Directory on the filesystem the nodes share where run directories (worktrees, logs) live. */
  runDir: Schema.optional(NonEmptyString),
  /** Most jobs in flight at once (the slots workers use; default 4). */
  maxJobs: Schema.optional(PositiveInt),
  /** Seconds between squeue polls (default 2). */
  pollSeconds: Schema.optional(PositiveNumber),
  sandbox: Schema.optional(Schema.Literals(["none", "bwrap"])),
})

export const ExecutorConfig = Schema.Union([LocalExecutorConfig, SlurmExecutorConfig])

const Price = Schema.Struct({ inputPerMillion: NonNegativeNumber, outputPerMillion: NonNegativeNumber })

export const LlmConfig = Schema.Struct({
  timeoutSeconds: Schema.optional(PositiveNumber),
  retries: Schema.optional(NonNegativeInt),
  cache: Schema.optional(Schema.Boolean),
  temperature: Schema.optional(NonNegativeNumber),
  structuredOutputs: Schema.optional(Schema.Boolean),
})

export const Arm = Schema.Literals(["hybrid", "inner-only"])
export type Arm = typeof Arm.Type

/** A stage entry before its kind's options are checked: a plain object with a string `kind`. */
const RawStageEntry = Schema.Record(Schema.String, Schema.Unknown)

export const PipelineConfigSchema = Schema.Struct({
  name: Schema.optional(NonEmptyString),
  store: Schema.optional(NonEmptyString),
  model: Schema.optional(ModelString),
  reflectionModel: Schema.optional(ModelString),
  target: TargetConfig,
  stages: Schema.NonEmptyArray(RawStageEntry),
  executor: Schema.optional(ExecutorConfig),
  arms: Schema.optional(Schema.NonEmptyArray(Arm)),
  seed: Schema.optional(NonNegativeInt),
  llm: Schema.optional(LlmConfig),
  prices: Schema.optional(Schema.Record(Schema.String, Price)),
})

// ---------------------------------------------------------------------------------------------------------
// What users write

export interface StageEntryInput {
  readonly kind: string
  readonly name?: string
  readonly [option: string]: unknown
}

export type ConfigInput = Omit<typeof PipelineConfigSchema.Encoded, "stages"> & {
  readonly stages: ReadonlyArray<StageEntryInput>
}

/** Identity function that gives a config file type checking and completion. */
export const defineConfig = <const C extends ConfigInput>(config: C): C => config

// ---------------------------------------------------------------------------------------------------------
// What the pipeline runs on

/** Prices in USD per million tokens, as of 2025-08 list prices; override or extend with `prices`. */
export const defaultPrices: Readonly<Record<string, { inputPerMillion: number; outputPerMillion: number }>> = {
  "openai:gpt-4.1": { inputPerMillion: 2, outputPerMillion: 8 },
  "openai:gpt-4.1-mini": { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  "openai:gpt-4.1-nano": { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "openai:gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10 },
  "openai:gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  "openai:gpt-5": { inputPerMillion: 1.25, outputPerMillion: 10 },
  "openai:gpt-5-mini": { inputPerMillion: 0.25, outputPerMillion: 2 },
  "openai:gpt-5-nano": { inputPerMillion: 0.05, outputPerMillion: 0.4 },
}

export interface ResolvedStageEntry {
  readonly kind: string
  readonly name: string
  /** The entry's options after its kind's schema decoded them (defaults applied by the kind). */
  readonly options: unknown
}

export interface ResolvedTarget {
  /** Absolute path of the target directory. */
  readonly dir: string
  readonly editable: ReadonlyArray<string>
  readonly readonly: ReadonlyArray<string>
  readonly command: string
  readonly metric: { readonly name: string; readonly direction: MetricDirection }
  readonly timeBudgetSeconds: number
  readonly env: Readonly<Record<string, string>>
}

export type ResolvedExecutor = typeof ExecutorConfig.Type & { readonly sandbox: "none" | "bwrap" }

export interface ResolvedConfig {
  readonly configFile: string
  readonly configDir: string
  readonly name: string
  /** Absolute path of the SQLite store. */
  readonly store: string
  readonly model: string
  readonly reflectionModel: string
  readonly target: ResolvedTarget
  readonly stages: ReadonlyArray<ResolvedStageEntry>
  readonly executor: ResolvedExecutor
  readonly arms: ReadonlyArray<Arm>
  readonly seed: number
  readonly llm: {
    readonly timeoutSeconds: number
    readonly retries: number
    readonly cache: boolean
    readonly temperature: number | undefined
    readonly structuredOutputs: boolean
  }
  readonly prices: Readonly<Record<string, { inputPerMillion: number; outputPerMillion: number }>>
}

/** How a stage kind's options are checked; supplied by the stage registry at decode time. */
export interface StageEntryDecoder {
  readonly kinds: () => ReadonlyArray<string>
  /** Decodes one entry's options (the entry minus `kind` and `name`); errors are one line with a path. */
  readonly decode: (kind: string, options: Record<string, unknown>, path: string) => { ok: true; value: unknown } | { ok: false; message: string }
}

export type DecodeResult = { readonly ok: true; readonly config: ResolvedConfig } | { readonly ok: false; readonly message: string }

const relativeTo = (base: string, file: string) => (path.isAbsolute(file) ? file : path.resolve(base, file))

const pathEscapes = (relative: string) => path.isAbsolute(relative) || path.normalize(relative).split(path.sep).includes("..")

/**
 * Decodes raw config data loaded from `configFile`. The message of a failure starts with the file name and
 * names the key path of the first problem.
 */
export const decodeConfig = (raw: unknown, configFile: string, stages: StageEntryDecoder): DecodeResult => {
  const fail = (message: string): DecodeResult => ({ ok: false, message: `${configFile}: ${message}` })
  const exit = Schema.decodeUnknownExit(PipelineConfigSchema, strictParseOptions)(raw)
  if (Exit.isFailure(exit)) {
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    const issue = error && "error" in error ? (error.error as Schema.SchemaError).issue : undefined
    return fail(issue ? summarizeIssue(issue) : "invalid config")
  }
  const input = exit.value
  const configDir = path.dirname(configFile)

  for (const [key, list] of [["target.editable", input.target.editable], ["target.readonly", input.target.readonly ?? []]] as const) {
    const index = list.findIndex(pathEscapes)
    if (index >= 0) return fail(`${key}[${index}]: expected a path inside target.dir, got ${JSON.stringify(list[index])}`)
  }
  const overlap = (input.target.readonly ?? []).find((file) => input.target.editable.includes(file))
  if (overlap) return fail(`target.readonly: ${JSON.stringify(overlap)} is also listed in target.editable`)

  const resolvedStages: Array<ResolvedStageEntry> = []
  const known = stages.kinds()
  for (const [index, entry] of input.stages.entries()) {
    const at = `stages[${index}]`
    const { kind, name, ...options } = entry
    if (typeof kind !== "string") return fail(`${at}.kind: expected a stage kind (${known.join(", ")}), got ${kind === undefined ? "nothing" : JSON.stringify(kind)}`)
    if (!known.includes(kind)) {
      const suggestion = suggestName(kind, known)
      return fail(`${at}.kind: unknown stage kind ${JSON.stringify(kind)}${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; known kinds: ${known.join(", ")}`)
    }
    if (name !== undefined && (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)))
      return fail(`${at}.name: expected a name of letters, digits, "-" and "_", got ${JSON.stringify(name)}`)
    const stageName = (name as string | undefined) ?? kind
    if (resolvedStages.some((s) => s.name === stageName))
      return fail(`${at}.name: stage name ${JSON.stringify(stageName)} is used twice; give each stage a distinct name`)
    const decoded = stages.decode(kind, options, at)
    if (!decoded.ok) return fail(decoded.message)
    resolvedStages.push({ kind, name: stageName, options: decoded.value })
  }

  const executor = input.executor ?? { kind: "local" as const }
  const model = input.model ?? "offline"
  return {
    ok: true,
    config: {
      configFile,
      configDir,
      name: input.name ?? path.basename(configDir),
      store: relativeTo(configDir, input.store ?? ".twoloop/twoloop.db"),
      model,
      reflectionModel: input.reflectionModel ?? model,
      target: {
        dir: relativeTo(configDir, input.target.dir),
        editable: input.target.editable,
        readonly: input.target.readonly ?? [],
        command: input.target.command,
        metric: input.target.metric,
        timeBudgetSeconds: input.target.timeBudgetSeconds,
        env: input.target.env ?? {},
      },
      stages: resolvedStages,
      executor:
        executor.kind === "slurm"
          ? { ...executor, sandbox: executor.sandbox ?? "none", ...(executor.runDir ? { runDir: relativeTo(configDir, executor.runDir) } : {}) }
          : { ...executor, sandbox: executor.sandbox ?? "none" },
      arms: input.arms ?? ["hybrid"],
      seed: input.seed ?? 0,
      llm: {
        timeoutSeconds: input.llm?.timeoutSeconds ?? 120,
        retries: input.llm?.retries ?? 3,
        cache: input.llm?.cache ?? false,
        temperature: input.llm?.temperature,
        structuredOutputs: input.llm?.structuredOutputs ?? true,
      },
      prices: { ...defaultPrices, ...input.prices },
    },
  }
}
