/**
 * The config contract users write in `pipeline.config.ts`: `defineConfig` (an identity function), the
 * schema the file is decoded with, and the resolved form the pipeline runs on. Light on purpose: imports
 * nothing but effect's Schema, so a config file can import it cheaply.
 *
 * Decoding never throws: it returns the resolved config or a one-line message naming the key path.
 */
import { Effect, Exit, Schema } from "effect"
import * as path from "node:path"
import { formatIssueLine, issueLines, strictParseOptions, summarizeIssue, suggestName } from "./common/schemaIssues.ts"

// ---------------------------------------------------------------------------------------------------------
// Building blocks shared with stage option schemas

export const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0, { expected: "a positive integer" }))
export const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a non-negative integer" }))
export const PositiveNumber = Schema.Finite.check(Schema.isGreaterThan(0, { expected: "a positive number" }))
export const NonNegativeNumber = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { expected: "a non-negative number" }))
export const NonEmptyString = Schema.String.check(Schema.isMinLength(1, { expected: "a non-empty string" }))

/** The longest time budget, grace or kill grace twoloop accepts: ten years, far below where timers or sums break. */
export const maxSeconds = 10 * 365 * 24 * 3600
/** A positive number of seconds up to `maxSeconds`. */
export const BudgetSeconds = PositiveNumber.check(Schema.isLessThanOrEqualTo(maxSeconds, { expected: `at most ${maxSeconds} seconds (ten years)` }))
/** A non-negative number of seconds up to `maxSeconds`. */
export const SlackSeconds = NonNegativeNumber.check(Schema.isLessThanOrEqualTo(maxSeconds, { expected: `at most ${maxSeconds} seconds (ten years)` }))

/** An optional key that decodes to `value` when absent: the schema's Type has the key, its Encoded does not. */
export const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

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

/** How many capture groups a regular expression has, or why it is not one. */
export const captureGroups = (pattern: string): number | { readonly error: string } => {
  try {
    new RegExp(pattern)
    return new RegExp(`${pattern}|`).exec("")!.length - 1
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const MetricPattern = NonEmptyString.check(
  Schema.makeFilter((text: string) => {
    const groups = captureGroups(text)
    if (typeof groups !== "number") return `expected a regular expression, got ${JSON.stringify(text)} (${groups.error})`
    return groups === 1 || `expected a regular expression with exactly one capture group around the value, e.g. "test loss: (\\S+)"; got ${groups} in ${JSON.stringify(text)}`
  }),
)

export const MetricConfig = Schema.Struct({
  name: MetricName,
  direction: MetricDirection,
  /** A regular expression with one capture group; its last match in stdout is the value. Default: a whole line `<name>: <number>`. */
  pattern: Schema.optional(MetricPattern),
  /** A JSON file the run writes (relative to target.dir), read after the run instead of stdout. */
  file: Schema.optional(NonEmptyString),
  /** The value's dotted key in `file` (default: `name`). */
  key: Schema.optional(NonEmptyString),
})
export type MetricConfig = typeof MetricConfig.Type

export const TargetConfig = Schema.Struct({
  dir: NonEmptyString,
  editable: Schema.NonEmptyArray(NonEmptyString),
  readonly: Schema.Array(NonEmptyString).pipe(withDefault([])),
  command: NonEmptyString,
  metric: MetricConfig,
  timeBudgetSeconds: BudgetSeconds,
  env: Schema.Record(Schema.String, Schema.String).pipe(withDefault({})),
  /** Copy a target that is not under git even when it is a home directory, `/`, or very large (default false). */
  copyAnyDir: Schema.optional(Schema.Boolean),
})

const GpuSlots = Schema.Union([
  Schema.Literals(["auto", "none"]),
  Schema.NonEmptyArray(NonNegativeInt),
])

export const LocalExecutorConfig = Schema.Struct({
  kind: Schema.Literal("local"),
  gpus: Schema.optional(GpuSlots),
  cpuSlots: Schema.optional(PositiveInt),
  sandbox: Schema.Literals(["none", "bwrap"]).pipe(withDefault("none")),
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
  sandbox: Schema.Literals(["none", "bwrap"]).pipe(withDefault("none")),
})

export const ExecutorConfig = Schema.Union([LocalExecutorConfig, SlurmExecutorConfig])

const Price = Schema.Struct({ inputPerMillion: NonNegativeNumber, outputPerMillion: NonNegativeNumber })

export const LlmConfig = Schema.Struct({
  timeoutSeconds: PositiveNumber.pipe(withDefault(120)),
  retries: NonNegativeInt.pipe(withDefault(3)),
  cache: Schema.Boolean.pipe(withDefault(false)),
  temperature: Schema.optional(NonNegativeNumber),
  structuredOutputs: Schema.Boolean.pipe(withDefault(true)),
  /** Longest model reply accepted, in bytes; a longer one is refused and only its start is recorded. */
  maxReplyBytes: PositiveInt.pipe(withDefault(256 * 1024)),
})

export const Arm = Schema.Literals(["hybrid", "inner-only"])
export type Arm = typeof Arm.Type

/** A stage entry before its kind's options are checked: a plain object with a string `kind`. */
const RawStageEntry = Schema.Record(Schema.String, Schema.Unknown)

export const PipelineConfigSchema = Schema.Struct({
  /** Default: the config's directory name. */
  name: Schema.optional(NonEmptyString),
  store: NonEmptyString.pipe(withDefault(".twoloop/twoloop.db")),
  model: ModelString.pipe(withDefault("offline")),
  /** Default: `model`. */
  reflectionModel: Schema.optional(ModelString),
  target: TargetConfig,
  stages: Schema.NonEmptyArray(RawStageEntry),
  executor: ExecutorConfig.pipe(withDefault({ kind: "local" })),
  arms: Schema.NonEmptyArray(Arm).pipe(withDefault(["hybrid"])),
  seed: NonNegativeInt.pipe(withDefault(0)),
  llm: LlmConfig.pipe(withDefault({})),
  prices: Schema.Record(Schema.String, Price).pipe(withDefault({})),
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

export const ResolvedStageEntry = Schema.Struct({
  kind: Schema.String,
  name: Schema.String,
  /** The entry's options after its kind's schema decoded them (defaults applied). */
  options: Schema.Unknown,
})
export type ResolvedStageEntry = typeof ResolvedStageEntry.Type

/**
 * The config the pipeline runs on, and the snapshot stored with each run (decoded again on resume): the
 * decoded config with every default applied and every path absolute.
 */
export const ResolvedConfigSchema = Schema.Struct({
  configFile: Schema.String,
  configDir: Schema.String,
  name: NonEmptyString,
  /** Absolute path of the SQLite store. */
  store: NonEmptyString,
  model: ModelString,
  reflectionModel: ModelString,
  /** `dir` is absolute. */
  target: Schema.toType(TargetConfig),
  stages: Schema.Array(ResolvedStageEntry),
  executor: Schema.toType(ExecutorConfig),
  arms: Schema.NonEmptyArray(Arm),
  seed: NonNegativeInt,
  /** Decoded with its defaults, so a snapshot written before an `llm` option existed still resumes. */
  llm: LlmConfig,
  prices: Schema.Record(Schema.String, Price),
})
export type ResolvedConfig = typeof ResolvedConfigSchema.Type
export type ResolvedTarget = ResolvedConfig["target"]
export type ResolvedExecutor = ResolvedConfig["executor"]

/** How a stage kind's options are checked; supplied by the stage registry at decode time. */
export interface StageEntryDecoder {
  readonly kinds: () => ReadonlyArray<string>
  /** Decodes one entry's options (the entry minus `kind` and `name`); errors are one line per problem, each with its path. */
  readonly decode: (kind: string, options: Record<string, unknown>, path: string) => { ok: true; value: unknown } | { ok: false; message: string }
}

export type DecodeResult = { readonly ok: true; readonly config: ResolvedConfig } | { readonly ok: false; readonly message: string }

const relativeTo = (base: string, file: string) => (path.isAbsolute(file) ? file : path.resolve(base, file))

const pathEscapes = (relative: string) => path.isAbsolute(relative) || path.normalize(relative).split(path.sep).includes("..")

/** A target file path as one spelling: `./train.mjs`, `a//b.py` and `a/./b.py/` become `train.mjs`, `a/b.py`. */
const normalizeTargetPath = (file: string) => path.posix.normalize(file.replaceAll("\\", "/")).replace(/\/+$/, "")

/** Decodes a run's stored config snapshot (JSON of a ResolvedConfig); the message names the key path. */
export const decodeConfigSnapshot = (json: string): DecodeResult => {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (error) {
    return { ok: false, message: `the config snapshot is not JSON (${(error as Error).message})` }
  }
  const exit = Schema.decodeUnknownExit(ResolvedConfigSchema)(raw)
  if (Exit.isSuccess(exit)) return { ok: true, config: exit.value }
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  const issue = error && "error" in error ? (error.error as Schema.SchemaError).issue : undefined
  return { ok: false, message: `the config snapshot does not decode: ${issue ? summarizeIssue(issue) : "invalid"}` }
}

/** At most this many problems are listed in one config error. */
export const maxListedProblems = 10

/** One message for several problems: one line each, `<file>: <key path>: <what is wrong>`, at most `maxListedProblems`. */
export const listProblems = (configFile: string, problems: ReadonlyArray<string>): string => {
  const shown = problems.slice(0, maxListedProblems).map((problem) => `${configFile}: ${problem}`)
  const more = problems.length - shown.length
  return more > 0 ? `${shown.join("\n")}\n${configFile}: (and ${more} more problem${more === 1 ? "" : "s"})` : shown.join("\n")
}

const issuesOf = (exit: Exit.Exit<unknown, Schema.SchemaError>): Array<string> => {
  if (Exit.isSuccess(exit)) return []
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  const issue = error && "error" in error ? (error.error as Schema.SchemaError).issue : undefined
  if (!issue) return ["invalid config"]
  const lines = issueLines(issue).map(formatIssueLine)
  return lines.length > 0 ? lines : ["invalid config"]
}

/**
 * Decodes raw config data loaded from `configFile`. A failure lists every problem found (up to
 * `maxListedProblems`), one line each, starting with the file name and naming the key path.
 */
export const decodeConfig = (raw: unknown, configFile: string, stages: StageEntryDecoder): DecodeResult => {
  const problems: Array<string> = []
  const exit = Schema.decodeUnknownExit(PipelineConfigSchema, strictParseOptions)(raw)
  problems.push(...issuesOf(exit))
  const input = Exit.isSuccess(exit) ? exit.value : undefined
  const configDir = path.dirname(configFile)

  const editable = input ? ([normalizeTargetPath(input.target.editable[0]), ...input.target.editable.slice(1).map(normalizeTargetPath)] as const) : undefined
  const readonly = input ? input.target.readonly.map(normalizeTargetPath) : []
  if (input && editable) {
    for (const [key, list, rawList] of [["target.editable", editable, input.target.editable], ["target.readonly", readonly, input.target.readonly]] as const) {
      for (const [index, file] of rawList.entries()) {
        if (pathEscapes(file)) problems.push(`${key}[${index}]: expected a path inside target.dir, got ${JSON.stringify(file)}`)
        else if (list[index] === "." || list[index] === "") problems.push(`${key}[${index}]: expected a file inside target.dir, got ${JSON.stringify(file)}`)
        else if (list.indexOf(list[index]!) !== index) problems.push(`${key}[${index}]: ${JSON.stringify(file)} names the same file as ${key}[${list.indexOf(list[index]!)}]`)
      }
    }
    for (const [index, file] of readonly.entries()) {
      const at = editable.indexOf(file)
      if (at >= 0) problems.push(`target.readonly[${index}]: ${JSON.stringify(input.target.readonly[index])} is the same file as target.editable[${at}] (${JSON.stringify(input.target.editable[at])})`)
    }
    const metric = input.target.metric
    if (metric.file !== undefined && metric.pattern !== undefined) problems.push("target.metric: give pattern (read stdout) or file (read a JSON file the run writes), not both")
    if (metric.key !== undefined && metric.file === undefined) problems.push("target.metric.key: a key is read from target.metric.file, which is not set")
    if (metric.file !== undefined) {
      if (pathEscapes(metric.file)) problems.push(`target.metric.file: expected a path inside target.dir, got ${JSON.stringify(metric.file)}`)
      else if ([...editable, ...readonly].includes(normalizeTargetPath(metric.file)))
        problems.push(`target.metric.file: ${JSON.stringify(metric.file)} is an editable or readonly file; name the file the run writes`)
    }
  }

  // Stage entries are checked even when the rest of the config is wrong, so every problem is listed at once.
  const rawStages = input?.stages ?? (raw !== null && typeof raw === "object" && Array.isArray((raw as { stages?: unknown }).stages) ? ((raw as { stages: Array<unknown> }).stages) : [])
  const resolvedStages: Array<ResolvedStageEntry> = []
  const known = stages.kinds()
  for (const [index, entry] of rawStages.entries()) {
    const at = `stages[${index}]`
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      if (input) problems.push(`${at}: expected an object such as { kind: "code-search" }`)
      continue
    }
    const { kind, name, ...options } = entry as Record<string, unknown>
    if (typeof kind !== "string") {
      problems.push(`${at}.kind: expected a stage kind (${known.join(", ")}), got ${kind === undefined ? "nothing" : JSON.stringify(kind)}`)
      continue
    }
    if (!known.includes(kind)) {
      const suggestion = suggestName(kind, known)
      problems.push(`${at}.kind: unknown stage kind ${JSON.stringify(kind)}${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; known kinds: ${known.join(", ")}`)
      continue
    }
    if (name !== undefined && (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name))) {
      problems.push(`${at}.name: expected a name of letters, digits, "-" and "_", got ${JSON.stringify(name)}`)
      continue
    }
    const stageName = (name as string | undefined) ?? kind
    if (resolvedStages.some((s) => s.name === stageName)) problems.push(`${at}.name: stage name ${JSON.stringify(stageName)} is used twice; give each stage a distinct name`)
    const decoded = stages.decode(kind, options, at)
    if (!decoded.ok) problems.push(...decoded.message.split("\n"))
    else resolvedStages.push({ kind, name: stageName, options: decoded.value })
  }

  if (!input || !editable || problems.length > 0) return { ok: false, message: listProblems(configFile, problems) }
  const { executor } = input
  return {
    ok: true,
    config: {
      ...input,
      configFile,
      configDir,
      name: input.name ?? path.basename(configDir),
      store: relativeTo(configDir, input.store),
      reflectionModel: input.reflectionModel ?? input.model,
      target: { ...input.target, dir: relativeTo(configDir, input.target.dir), editable, readonly },
      stages: resolvedStages,
      executor: executor.kind === "slurm" && executor.runDir ? { ...executor, runDir: relativeTo(configDir, executor.runDir) } : executor,
      prices: { ...defaultPrices, ...input.prices },
    },
  }
}
