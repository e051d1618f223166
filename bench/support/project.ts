/**
 * Real projects for the benchmarks: a target written into a temp directory (a git repository with one
 * commit), a decoded config for it, and a pipeline run with the production services (real SQLite, git
 * worktrees, subprocesses), its progress lines kept instead of printed. The prompt library goes to a temp
 * TWOLOOP_HOME so a benchmark never writes into the user's.
 */
import { Effect, Layer, Option, Tracer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import "../../stages/index.ts"
import { decodeConfig, type ResolvedConfig } from "../../src/config.ts"
import { servicesFor } from "../../src/pipeline/layers.ts"
import { type RunOptions, type RunSummary, startRun } from "../../src/pipeline/runPipeline.ts"
import { registryDecoder } from "../../src/pipeline/StageKind.ts"
import type { Llm } from "../../src/services/Llm.ts"
import { Store } from "../../src/services/Store.ts"
import { findTunables, plainText } from "../../stages/experiment-kit/tunables/index.ts"

const created: Array<string> = []

export const tempDir = (prefix: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  created.push(dir)
  return dir
}

/** Removes every directory `tempDir` made (unless TWOLOOP_KEEP_BENCH_DIRS is set). */
export const removeTempDirs = () => {
  if (process.env.TWOLOOP_KEEP_BENCH_DIRS) return
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** Points TWOLOOP_HOME at a temp directory, unless the test setup already did. */
export const isolateHome = () => {
  if (process.env.TWOLOOP_TEST_HOME_SET) return
  process.env.TWOLOOP_HOME = tempDir("twoloop-bench-home-")
  process.env.TWOLOOP_TEST_HOME_SET = "1"
}

/** Writes `files` as `target/` of a fresh project with one git commit; returns the project root. */
export const makeProject = (files: Readonly<Record<string, string>>, prefix = "twoloop-bench-"): string => {
  const root = tempDir(prefix)
  const target = path.join(root, "target")
  fs.mkdirSync(target, { recursive: true })
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(target, file), content)
  const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false", ...args], { cwd: root, stdio: "pipe" })
  git("init", "--quiet")
  git("add", "--all")
  git("commit", "--quiet", "-m", "initial")
  return root
}

/** The tunable constants of a training script as the search sees them (name → value, strings unquoted). */
export const constantsOf = (content: string, file = "train.mjs"): Record<string, number | string | boolean> =>
  Object.fromEntries(findTunables(new Map([[file, content]])).map((t) => [t.name, t.value.kind === "string" ? plainText(t.value.text) : t.value.value]))

/** Decodes `raw` as the project's pipeline.config.json (written there too). */
export const configFor = (root: string, raw: Record<string, unknown>): ResolvedConfig => {
  const file = path.join(root, "pipeline.config.json")
  fs.writeFileSync(file, JSON.stringify(raw, null, 2))
  const decoded = decodeConfig(raw, file, registryDecoder)
  if (!decoded.ok) throw new Error(decoded.message)
  return decoded.config
}

/**
 * A `.mjs` file of `count` decimal constants (KNOB_0 = 0.1, KNOB_1 = 0.2, ...) for the offline proposer or
 * an agent to tune: six distinct moves each at a point (integers this small would collide when scaled).
 */
export const knobsFile = (count: number) =>
  `// Constants the search tunes; the benchmark's command does not read them.\n${Array.from({ length: count }, (_, index) => `const KNOB_${index} = ${(index + 1) / 10}`).join("\n")}\n`

export interface PipelineRun<A> {
  readonly summary: RunSummary
  readonly after: A
  readonly lines: ReadonlyArray<string>
}

/**
 * Runs a pipeline on `config` with the production services (and `llm` instead of the configured provider
 * when given), then `after` on the same store before it closes.
 */
export const runPipeline = <A>(
  config: ResolvedConfig,
  options: RunOptions & { readonly llm?: Layer.Layer<Llm, never, Store>; readonly tracer?: Tracer.Tracer },
  after: (summary: RunSummary) => Effect.Effect<A, never, Store>,
): Promise<PipelineRun<A>> => {
  isolateHome()
  const lines: Array<string> = []
  const base = servicesFor(config, { write: (line) => lines.push(line) })
  const layer = options.llm ? Layer.provideMerge(options.llm, base) : base
  const program = Effect.gen(function* () {
    const summary = yield* startRun(config, options)
    return { summary, after: yield* after(summary), lines }
  })
  const provided = program.pipe(Effect.provide(layer))
  return Effect.runPromise(options.tracer ? Effect.withTracer(provided, options.tracer) : provided)
}

/** A tracer that keeps every span, to attribute time to the spans services open (Store.*, Executor.run). */
export const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    },
  })
  return { tracer, spans }
}

/** Start and end of an ended span in epoch milliseconds; undefined while it runs. */
export const spanWindow = (span: Tracer.Span) =>
  span.status._tag === "Ended" ? { start: Number(span.status.startTime) / 1e6, end: Number(span.status.endTime) / 1e6 } : undefined

/** Whether a span has an ancestor named `name`. */
export const hasAncestor = (span: Tracer.Span, name: string): boolean => {
  for (let parent = span.parent; Option.isSome(parent) && parent.value._tag === "Span"; parent = parent.value.parent) if (parent.value.name === name) return true
  return false
}

/** Milliseconds since the epoch of a stored ISO timestamp. */
export const at = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso))
