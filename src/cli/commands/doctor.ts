/**
 * `twoloop doctor`: checks what runs need — node, git, GPU visibility; with a config, the target as it will
 * run (the command's own programs, resolved with `target.env`; a Python interpreter that can import what
 * the target's Python files import, torch included; the pre-flight checks: files that exist, budgets, the
 * tunables found), that the store can be written, and that the configured models do what twoloop asks of them:
 * the agent model takes one structured call with the real Edit schema, a separate reflection model one
 * plain call, each capped at a few output tokens. Those calls go through the Llm service with a throwaway
 * store (never the user's), no retries and no cache. Exit code 1 when a required check fails; optional
 * ones only warn.
 */
import { Effect, Layer, Option } from "effect"
import { Command } from "effect/cli"
import { execa } from "execa"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseModelSpec, type ResolvedConfig } from "../../config.ts"
import { Edit } from "../../domain/Edit.ts"
import { type LlmError, RunError } from "../../domain/errors.ts"
import { llmSettingsOf } from "../../pipeline/layers.ts"
import { findConfigFile, loadConfig } from "../../pipeline/loadConfig.ts"
import { commandEnv, commandPrograms, preflightReport, scriptOf } from "../../pipeline/preflight.ts"
import { queryGpus } from "../../services/executor/fingerprint.ts"
import { Llm, openaiBaseURL } from "../../services/Llm.ts"
import { Store } from "../../services/Store.ts"
import { configFlag, printLine } from "../shared.ts"
import { fullEnvironment } from "../../common/secrets.ts"

type Check = { readonly level: "ok" | "warn" | "fail"; readonly name: string; readonly detail: string }

const probe = async (file: string, args: ReadonlyArray<string>, options: { env?: Record<string, string | undefined>; cwd?: string } = {}) => {
  try {
    const result = await execa(file, args, { reject: false, timeout: 60_000, ...(options.env ? { env: options.env, extendEnv: false } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) })
    return result.exitCode === 0 ? `${result.stdout}`.trim() || `${result.stderr}`.trim() : null
  } catch {
    return null
  }
}

/** Top-level module names a Python file imports (`import a.b`, `from a import b`; relative imports skipped). */
export const pythonImports = (source: string): Array<string> => {
  const out = new Set<string>()
  for (const line of source.split("\n")) {
    const from = /^\s*from\s+([A-Za-z_][\w.]*)\s+import\b/.exec(line)
    if (from) out.add(from[1]!.split(".")[0]!)
    const plain = /^\s*import\s+([A-Za-z_][\w.]*(?:\s+as\s+\w+)?(?:\s*,\s*[A-Za-z_][\w.]*(?:\s+as\s+\w+)?)*)\s*(#.*)?$/.exec(line)
    if (plain) for (const part of plain[1]!.split(",")) out.add(part.trim().split(/\s+/)[0]!.split(".")[0]!)
  }
  out.delete("__future__")
  return [...out]
}

const findSpecs = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"

/**
 * The target's command as it will run: each program resolved with the target's environment; for a Python
 * interpreter, its version, whether it finds every module the target's Python files import, and torch's
 * version and device when they import torch.
 */
export const targetChecks = async (config: ResolvedConfig): Promise<Array<Check>> => {
  const checks: Array<Check> = []
  if (config.executor.kind !== "local") return checks
  const env = commandEnv(config)
  const python = (file: string) => file.endsWith(".py")
  const sources = [...config.target.editable, ...config.target.readonly].filter(python)
  for (const program of commandPrograms(config.target.command, config.target.dir, env)) {
    if (program.resolved === null) continue // a pre-flight error says so
    if (!/^(python|pypy)[\d.]*$/.test(path.basename(program.program))) continue
    const where = program.resolved === program.program ? program.program : `${program.program} → ${program.resolved}`
    const version = await probe(program.resolved, ["--version"], { env, cwd: config.target.dir })
    if (version === null) {
      checks.push({ level: "fail", name: "python", detail: `the target's interpreter ${where} does not run` })
      continue
    }
    checks.push({ level: "ok", name: "python", detail: `the target's interpreter ${where}: ${version}` })
    const script = scriptOf(program)
    const files = [...new Set([...sources, ...(script && python(script) ? [script] : [])])]
    const imported = new Map<string, string>()
    for (const file of files) {
      let text = ""
      try {
        text = fs.readFileSync(path.join(config.target.dir, file), "utf8")
      } catch {
        continue
      }
      for (const module of pythonImports(text)) if (!imported.has(module)) imported.set(module, file)
    }
    if (imported.size === 0) continue
    const missing = (await probe(program.resolved, ["-c", findSpecs, ...imported.keys()], { env, cwd: config.target.dir }))?.split(/\s+/).filter((m) => m.length > 0)
    if (missing === undefined) checks.push({ level: "fail", name: "imports", detail: `${where} could not check the target's imports` })
    else if (missing.length > 0)
      checks.push({ level: "fail", name: "imports", detail: `${where} cannot import ${missing.map((m) => `${m} (imported by ${imported.get(m)})`).join(", ")}; set target.env.PATH or the command to the interpreter that has them` })
    else checks.push({ level: "ok", name: "imports", detail: `${where} imports ${[...imported.keys()].join(", ")}` })
    if (imported.has("torch") && !missing?.includes("torch")) {
      const torch = await probe(program.resolved, ["-c", "import torch; print(torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"], { env, cwd: config.target.dir })
      checks.push(torch ? { level: "ok", name: "torch", detail: `${where}: torch ${torch}` } : { level: "fail", name: "torch", detail: `${where} finds torch but cannot import it` })
    }
  }
  return checks
}

/** The pre-flight findings of every stage in the config: errors fail, warnings warn, notes (the tunables found) inform. */
export const preflightChecks = (config: ResolvedConfig): Array<Check> => {
  const report = preflightReport(config, config.stages.map((s) => s.name))
  return [
    ...report.errors.map((detail): Check => ({ level: "fail", name: "pre-flight", detail })),
    ...report.warnings.map((detail): Check => ({ level: "warn", name: "pre-flight", detail })),
    ...report.notes.map((detail): Check => ({ level: "ok", name: "search", detail })),
  ]
}

const nearestExisting = (dir: string): string => (fs.existsSync(dir) ? dir : nearestExisting(path.dirname(dir)))

export const storeCheck = (file: string): Check => {
  if (fs.existsSync(file)) {
    try {
      fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK)
      return { level: "ok", name: "store", detail: `${file} exists and is writable` }
    } catch {
      return { level: "fail", name: "store", detail: `${file} is not writable` }
    }
  }
  const existing = nearestExisting(path.dirname(file))
  try {
    fs.accessSync(existing, fs.constants.W_OK)
    return { level: "ok", name: "store", detail: `${file} can be created (in ${existing})` }
  } catch {
    return { level: "fail", name: "store", detail: `cannot create ${file}: ${existing} is not writable` }
  }
}

/** Enough for OpenAI's minimum (16) and a few words of JSON; a reply cut here still proves the request was accepted. */
export const probeOutputTokens = 16

const probePrompt =
  "twoloop doctor: a connectivity check. Propose an edit that changes nothing: direction \"none\", rationale \"check\", " +
  "description \"check\", and one replace change of \"x\" by \"x\" in train.py."

/**
 * What a probe's outcome says about a model. A reply that was cut at the token cap or does not decode
 * still shows that the provider accepted the request and the schema; only a refusal (HTTP error, bad key),
 * an unreachable server or no reply in time fails.
 */
export const probeCheck = (model: string, where: string, asked: "structured" | "text", outcome: { readonly ok: true } | { readonly ok: false; readonly error: LlmError }): Check => {
  const name = `model ${model}`
  const what = asked === "structured" ? "a structured call with the edit schema" : "a text call"
  if (outcome.ok) return { level: "ok", name, detail: `${where} answered ${what}` }
  const { error } = outcome
  const message = error.message.replace(`${model}: `, "").replace(/\s+/g, " ").trim()
  switch (error.reason) {
    case "malformed":
    case "empty":
      return { level: "ok", name, detail: `${where} accepted ${what} (reply capped at ${probeOutputTokens} tokens)` }
    case "network":
      return { level: "fail", name, detail: `${where} is unreachable: ${message.replace(/^request failed: /, "")}` }
    case "timeout":
      return { level: "fail", name, detail: `${where}: ${message}` }
    default:
      return { level: "fail", name, detail: `${where} refused ${what}: ${message}` }
  }
}

/** Where a model's calls go, and through which API (an openai-compatible model string names its server). */
const endpointOf = (model: string, env: Readonly<Record<string, string | undefined>>) => {
  const spec = parseModelSpec(model)
  if (!spec || spec.provider === "offline") return undefined
  return spec.provider === "openai" ? `${openaiBaseURL(env)} (Responses API)` : "the server (chat completions)"
}

const offlineCheck = (model: string): Check => ({ level: "ok", name: `model ${model}`, detail: "offline: built-in proposers, no LLM needed" })

const modelCheck = (model: string, where: string, asked: "structured" | "text") =>
  Effect.gen(function* () {
    if (parseModelSpec(model)?.provider === "openai" && !fullEnvironment().OPENAI_API_KEY) return { level: "fail", name: `model ${model}`, detail: "OPENAI_API_KEY is not set" } satisfies Check
    const llm = yield* Llm
    const request = { purpose: "doctor", model, prompt: probePrompt, maxOutputTokens: probeOutputTokens }
    const call = asked === "structured" ? Effect.asVoid(llm.generateObject({ ...request, schema: Edit, schemaName: "edit" })) : Effect.asVoid(llm.generateText(request))
    return yield* call.pipe(
      Effect.match({ onSuccess: () => probeCheck(model, where, asked, { ok: true }), onFailure: (error) => probeCheck(model, where, asked, { ok: false, error }) }),
    )
  })

/** The Llm service for the probes: the config's provider settings, no retries or cache, a store in a temp dir removed afterwards. */
const probeLlm = (config: ResolvedConfig) =>
  Layer.unwrap(
    Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "twoloop-doctor-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
    ).pipe(
      Effect.map((dir) =>
        Llm.layer({ ...llmSettingsOf(config), retries: 0, cache: false, timeoutSeconds: Math.min(config.llm.timeoutSeconds, 60) }).pipe(
          Layer.provide(Store.layer(path.join(dir, "doctor.db"))),
        ),
      ),
    ),
  )

/** The agent model gets the structured call it will get in a run; a separate reflection model a text call. */
export const modelChecks = (config: ResolvedConfig): Effect.Effect<Array<Check>> => {
  const probes: Array<{ readonly model: string; readonly asked: "structured" | "text" }> = [{ model: config.model, asked: "structured" }]
  if (config.reflectionModel !== config.model) probes.push({ model: config.reflectionModel, asked: "text" })
  const callable = probes.map((probe) => ({ ...probe, where: endpointOf(probe.model, fullEnvironment()) }))
  if (callable.every((probe) => probe.where === undefined)) return Effect.succeed(callable.map((probe) => offlineCheck(probe.model)))
  return Effect.forEach(callable, (probe) => (probe.where === undefined ? Effect.succeed(offlineCheck(probe.model)) : modelCheck(probe.model, probe.where, probe.asked))).pipe(
    Effect.provide(probeLlm(config)),
    Effect.orDie,
  )
}

const systemChecks = async (withPython: boolean): Promise<Array<Check>> => {
  const checks: Array<Check> = []
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
  checks.push({ level: major > 20 || (major === 20 && minor >= 19) ? "ok" : "fail", name: "node", detail: `${process.version} (needs ≥ 20.19)` })
  const git = await probe("git", ["--version"])
  checks.push(git ? { level: "ok", name: "git", detail: git } : { level: "fail", name: "git", detail: "git not found on PATH (workspaces need it)" })
  if (withPython) checks.push(...(await pythonChecks()))
  const gpus = await queryGpus()
  checks.push(
    gpus.length > 0
      ? { level: "ok", name: "gpus", detail: gpus.map((g) => `${g.index}: ${g.name} (driver ${g.driver})`).join("; ") }
      : { level: "warn", name: "gpus", detail: "no GPU visible (nvidia-smi): experiments run on CPU slots" },
  )
  return checks
}

/** Without a config: the python first on PATH (or TWOLOOP_PYTHON), and whether it has torch. */
const pythonChecks = async (): Promise<Array<Check>> => {
  const checks: Array<Check> = []
  const python = process.env.TWOLOOP_PYTHON ?? "python3"
  const pythonVersion = await probe(python, ["--version"])
  const torch = pythonVersion ? await probe(python, ["-c", "import torch; print(torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"]) : null
  checks.push(pythonVersion ? { level: "ok", name: "python", detail: `${python}: ${pythonVersion}` } : { level: "warn", name: "python", detail: `${python} not found (needed only for Python targets)` })
  if (torch) checks.push({ level: "ok", name: "torch", detail: `${python}: torch ${torch}` })
  else {
    const system = python !== "/usr/bin/python3" ? await probe("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"]) : null
    checks.push({
      level: "warn",
      name: "torch",
      detail: system ? `not importable from ${python}; /usr/bin/python3 has torch ${system}: set TWOLOOP_PYTHON=/usr/bin/python3` : `not importable from ${python} (needed only for examples/char-gpt)`,
    })
  }
  return checks
}

const executorChecks = async (config: ResolvedConfig): Promise<Array<Check>> => {
  const checks: Array<Check> = []
  if (config.executor.kind === "slurm") {
    const sbatch = await probe("sbatch", ["--version"])
    const ping = sbatch ? await probe("scontrol", ["ping"]) : null
    checks.push(
      !sbatch
        ? { level: "fail", name: "slurm", detail: 'executor.kind is "slurm" but sbatch is not on PATH' }
        : ping && /UP/.test(ping)
          ? { level: "ok", name: "slurm", detail: `${sbatch}; ${ping.split("\n")[0]}; jobs in flight ≤ ${config.executor.maxJobs ?? 4}; run dir ${config.executor.runDir ?? "next to the store"}` }
          : { level: "fail", name: "slurm", detail: `${sbatch}, but the controller does not answer (scontrol ping); check SLURM_CONF` },
    )
  }
  if (config.executor.sandbox === "bwrap") {
    const bwrap = await probe("bwrap", ["--version"])
    checks.push(bwrap ? { level: "ok", name: "bubblewrap", detail: bwrap } : { level: "fail", name: "bubblewrap", detail: 'executor.sandbox is "bwrap" but bwrap is not installed (apt-get install bubblewrap)' })
  }
  return checks
}

export const runChecks = (config: ResolvedConfig | undefined) =>
  Effect.gen(function* () {
    const checks = yield* Effect.promise(() => systemChecks(!config))
    if (!config) {
      checks.push({ level: "warn", name: "config", detail: "no pipeline config found here: target, store and model checks skipped (pass --config)" })
      return checks
    }
    checks.push({ level: "ok", name: "config", detail: `${config.configFile} (${config.stages.map((s) => `${s.name}:${s.kind}`).join(", ")})` })
    checks.push(...preflightChecks(config))
    checks.push(...(yield* Effect.promise(() => targetChecks(config))))
    checks.push(storeCheck(config.store))
    checks.push(...(yield* modelChecks(config)))
    checks.push(...(yield* Effect.promise(() => executorChecks(config))))
    return checks
  })

export const doctorCommand = Command.make("doctor", { config: configFlag }, (flags) =>
  Effect.gen(function* () {
    const config = yield* findConfigFile(Option.getOrUndefined(flags.config)).pipe(
      Effect.flatMap(loadConfig),
      Effect.map((c) => c as ResolvedConfig | undefined),
      Effect.catchTag("ConfigError", (error) => (Option.isSome(flags.config) || !error.message.startsWith("no pipeline config") ? Effect.fail(error) : Effect.succeed(undefined))),
    )
    const checks = yield* runChecks(config)
    const mark = { ok: "✓", warn: "!", fail: "✗" } as const
    for (const check of checks) yield* printLine(`${mark[check.level]} ${check.name.padEnd(10)} ${check.detail}`)
    const failed = checks.filter((c) => c.level === "fail")
    if (failed.length > 0) return yield* new RunError({ message: `doctor: ${failed.length} check${failed.length === 1 ? "" : "s"} failed (${failed.map((c) => c.name).join(", ")})` })
  }),
).pipe(Command.withDescription("check node, git, GPUs, the target's command and interpreter (its imports, torch), the pre-flight checks and tunables, the store, and that the models take twoloop's calls"))
