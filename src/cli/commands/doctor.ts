/**
 * `twoloop doctor`: checks what runs need — node, git, python and torch (for the PyTorch example), GPU
 * visibility, that the store can be written, and that the configured models answer. Exit code 1 when a
 * required check fails; optional ones only warn.
 */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseModelSpec, type ResolvedConfig } from "../../config.ts"
import { RunError } from "../../domain/errors.ts"
import { queryGpus } from "../../services/executor/fingerprint.ts"
import { findConfigFile, loadConfig } from "../../pipeline/loadConfig.ts"
import { configFlag, printLine } from "../shared.ts"

type Check = { readonly level: "ok" | "warn" | "fail"; readonly name: string; readonly detail: string }

const probe = async (file: string, args: ReadonlyArray<string>) => {
  try {
    const result = await execa(file, args, { reject: false, timeout: 20_000 })
    return result.exitCode === 0 ? `${result.stdout}`.trim() || `${result.stderr}`.trim() : null
  } catch {
    return null
  }
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

const modelCheck = async (model: string): Promise<Check> => {
  const spec = parseModelSpec(model)
  if (!spec || spec.provider === "offline") return { level: "ok", name: `model ${model}`, detail: "offline: built-in proposers, no LLM needed" }
  const baseURL = spec.provider === "openai" ? "https://api.openai.com/v1" : spec.baseURL
  const key = spec.provider === "openai" ? process.env.OPENAI_API_KEY : process.env.TWOLOOP_API_KEY
  if (spec.provider === "openai" && !key) return { level: "fail", name: `model ${model}`, detail: "OPENAI_API_KEY is not set" }
  try {
    const response = await fetch(`${baseURL.replace(/\/$/, "")}/models`, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(5000) })
    if (response.status === 401 || response.status === 403) return { level: "fail", name: `model ${model}`, detail: `${baseURL} refused the key (HTTP ${response.status})` }
    return { level: response.ok ? "ok" : "warn", name: `model ${model}`, detail: `${baseURL} answered HTTP ${response.status}` }
  } catch (error) {
    return { level: "fail", name: `model ${model}`, detail: `${baseURL} is unreachable: ${(error as Error).message}` }
  }
}

export const runChecks = (config: ResolvedConfig | undefined) =>
  Effect.promise(async (): Promise<Array<Check>> => {
    const checks: Array<Check> = []
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
    checks.push({ level: major > 20 || (major === 20 && minor >= 19) ? "ok" : "fail", name: "node", detail: `${process.version} (needs ≥ 20.19)` })
    const git = await probe("git", ["--version"])
    checks.push(git ? { level: "ok", name: "git", detail: git } : { level: "fail", name: "git", detail: "git not found on PATH (workspaces need it)" })
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
    const gpus = await queryGpus()
    checks.push(
      gpus.length > 0
        ? { level: "ok", name: "gpus", detail: gpus.map((g) => `${g.index}: ${g.name} (driver ${g.driver})`).join("; ") }
        : { level: "warn", name: "gpus", detail: "no GPU visible (nvidia-smi): experiments run on CPU slots" },
    )
    if (!config) {
      checks.push({ level: "warn", name: "config", detail: "no pipeline config found here: store and model checks skipped (pass --config)" })
      return checks
    }
    checks.push({ level: "ok", name: "config", detail: `${config.configFile} (${config.stages.map((s) => `${s.name}:${s.kind}`).join(", ")})` })
    checks.push(storeCheck(config.store))
    for (const model of new Set([config.model, config.reflectionModel])) checks.push(await modelCheck(model))
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
).pipe(Command.withDescription("check node, git, python/torch, GPUs, the store and the models"))
