/**
 * Helpers for end-to-end tests of stages and pipelines: a copy of a fixture target in a temp dir (with or
 * without git), a decoded config for it, and a pipeline run with the real services (real SQLite, git,
 * subprocesses), progress lines captured.
 */
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import "../../stages/index.ts"
import { decodeConfig, type ResolvedConfig } from "../../src/config.ts"
import { servicesFor } from "../../src/pipeline/layers.ts"
import { type RunOptions, resumeRun, startRun } from "../../src/pipeline/runPipeline.ts"
import { registryDecoder } from "../../src/pipeline/StageKind.ts"
import { Llm } from "../../src/services/Llm.ts"
import { tempDir } from "./tmp.ts"

export const fixtureDir = (name: string) => path.resolve(import.meta.dirname, "../fixtures", name)

/** Copies a fixture target into a fresh temp project; with `git`, the project is a repository with one commit. */
export const makeProject = (fixture: string, options: { git?: boolean } = {}) => {
  const root = tempDir("twoloop-project-")
  const target = path.join(root, "target")
  fs.cpSync(fixtureDir(fixture), target, { recursive: true })
  if (options.git) {
    const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: root, stdio: "pipe" })
    git("init", "--quiet")
    git("add", "--all")
    git("commit", "--quiet", "-m", "initial")
  }
  return { root, target }
}

export const configFor = (root: string, raw: Record<string, unknown>): ResolvedConfig => {
  const file = path.join(root, "pipeline.config.json")
  fs.writeFileSync(file, JSON.stringify(raw, null, 2))
  const decoded = decodeConfig(raw, file, registryDecoder)
  if (!decoded.ok) throw new Error(decoded.message)
  return decoded.config
}

export interface RunCapture {
  readonly lines: Array<string>
}

export const runPipeline = (config: ResolvedConfig, options: RunOptions & { llm?: Layer.Layer<Llm, never, any> } = {}) => {
  const lines: Array<string> = []
  const base = servicesFor(config, { write: (line) => lines.push(line) })
  const layer = options.llm ? Layer.provideMerge(options.llm, base) : base
  return { lines, effect: startRun(config, options).pipe(Effect.provide(layer)) }
}

export const resumePipeline = (config: ResolvedConfig, runId: string, options: RunOptions = {}) => {
  const lines: Array<string> = []
  return { lines, effect: resumeRun(runId, options).pipe(Effect.provide(servicesFor(config, { write: (line) => lines.push(line) }))) }
}
