/**
 * Everything needed before a stage can run experiments on the target: the executor's slots, worktrees for
 * its workers, the readonly files' hashes at the base commit, and the runner context. Shared by the
 * code-search stage and the outer stage's proxy runs. Fails with StageFailed on a misconfigured target.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../../src/common/hash.ts"
import type { ResolvedConfig, ResolvedTarget } from "../../src/config.ts"
import { StageFailed, type WorkspaceError } from "../../src/domain/errors.ts"
import type { Handoff } from "../../src/domain/Handoff.ts"
import { Executor, type Slot } from "../../src/services/Executor.ts"
import { Workspace, type WorkspaceSetup } from "../../src/services/Workspace.ts"
import type { RunLimits } from "./limits.ts"
import type { RunnerContext } from "./runner.ts"
import { tunableContextOf } from "./tunables/target.ts"

export interface TargetWorkspace {
  readonly setup: WorkspaceSetup
  readonly slots: ReadonlyArray<Slot>
  readonly runner: RunnerContext
}

export interface TargetWorkspaceOptions {
  readonly config: ResolvedConfig
  readonly runId: string
  /** Unique within the run (names branches and worktrees). */
  readonly slug: string
  readonly stageName: string
  readonly runDir: string
  readonly logDir: string
  readonly workers: number
  readonly input: Handoff
  readonly limits: RunLimits
}

export const prepareTargetWorkspace = (options: TargetWorkspaceOptions) =>
  Effect.gen(function* () {
    const executor = yield* Executor
    const workspace = yield* Workspace
    const { config } = options
    const fail = (message: string) => new StageFailed({ stage: options.stageName, message: `${options.stageName}: ${message}` })
    const slots = yield* executor.slots
    if (options.workers > slots.length)
      return yield* fail(`needs ${options.workers} experiment slot${options.workers === 1 ? "" : "s"} but the ${executor.kind} executor has ${slots.length}; raise executor.cpuSlots or list more gpus`)
    const setup = yield* workspace.setup({
      runId: options.runId,
      stageName: options.slug,
      targetDir: config.target.dir,
      runDir: options.runDir,
      workers: options.workers,
      copyAnyDir: config.target.copyAnyDir === true,
      ...(options.input.commit && options.input.repo ? { startCommit: options.input.commit, repo: options.input.repo } : {}),
    })
    const readonlyHashes = new Map<string, string>()
    for (const file of [...config.target.readonly, ...config.target.editable]) {
      const content = yield* workspace.readAt(setup.repo, setup.baseCommit, path.posix.join(setup.targetSubdir.split(path.sep).join("/"), file))
      if (content === undefined) {
        const link = fs.lstatSync(path.join(setup.worktrees[0]!.targetPath, file), { throwIfNoEntry: false })?.isSymbolicLink()
        return yield* fail(link ? `${file} is a symbolic link; editable and readonly files must be regular files` : `${file} does not exist in the target ${config.target.dir} (at commit ${setup.baseCommit.slice(0, 7)})`)
      }
      if (config.target.readonly.includes(file)) readonlyHashes.set(file, sha256(content))
    }
    fs.mkdirSync(options.logDir, { recursive: true })
    const runner: RunnerContext = {
      runId: options.runId,
      target: config.target,
      setup,
      filesAt: makeFilesAt(workspace, setup, config.target),
      heads: new Map(),
      readonlyHashes,
      logDir: options.logDir,
      limits: options.limits,
      fingerprint: yield* executor.fingerprint,
      tunables: tunableContextOf(config.target),
    }
    return { setup, slots: slots.slice(0, options.workers), runner } satisfies TargetWorkspace
  })

/** Reads the editable files at a commit, once per commit (commits never change). */
export const makeFilesAt = (workspace: Workspace["Service"], setup: WorkspaceSetup, target: ResolvedTarget) => {
  const cache = new Map<string, ReadonlyMap<string, string>>()
  return (commit: string): Effect.Effect<ReadonlyMap<string, string>, WorkspaceError> =>
    Effect.gen(function* () {
      const cached = cache.get(commit)
      if (cached) return cached
      const files = new Map<string, string>()
      for (const file of target.editable) {
        const inRepo = path.posix.join(setup.targetSubdir.split(path.sep).join("/"), file)
        const content = yield* workspace.readAt(setup.repo, commit, inRepo)
        if (content !== undefined) files.set(path.posix.normalize(file), content)
      }
      cache.set(commit, files)
      return files
    })
}
