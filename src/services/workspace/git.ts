/**
 * Running git for twoloop. An experiment can write git configuration (the repository's `.git/config`, its
 * worktree's `.git` pointer, the user's `~/.gitconfig`) and every git command twoloop runs afterwards would
 * obey it: `core.fsmonitor`, hooks, filter drivers and the like run arbitrary commands. So every command here
 *
 * - gets a minimal environment (PATH, HOME, locale; no secrets, no inherited GIT_* variables), reads no
 *   system or global config (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`, `GIT_ATTR_NOSYSTEM`)
 *   except the user's ignore file and `safe.directory` entries, read once at start;
 * - runs against the git directory twoloop recorded (`GIT_DIR`, `GIT_COMMON_DIR`, `GIT_WORK_TREE`), not the
 *   one a worktree's `.git` file points at now;
 * - overrides, on its command line (which beats any config file), every setting that names a command:
 *   fsmonitor, hooks, pager, editor, askpass, credential helpers, transports, signing, attributes files, and
 *   the clean/smudge/process commands of every filter driver the repository's config defines.
 *
 * Contract: `runGit` fails with a WorkspaceError carrying git's first line of complaint.
 */
import { Effect } from "effect"
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { WorkspaceError } from "../../domain/errors.ts"

/** Where a git command runs and which repository it may use. */
export interface GitContext {
  readonly cwd: string
  /** The git directory (a worktree's admin directory, or the repository's). Absent only while discovering a repository. */
  readonly gitDir?: string
  /** The repository's common directory, when it differs from `gitDir` (linked worktrees). */
  readonly commonDir?: string
  /** The working tree, for commands that need one. */
  readonly workTree?: string
  /** Extra variables (GIT_INDEX_FILE). */
  readonly env?: Readonly<Record<string, string>>
}

/** Settings that make git run a command, neutralised on every call. */
const neutralSettings = [
  "core.fsmonitor=false",
  "core.hooksPath=/dev/null",
  "core.pager=cat",
  "core.editor=true",
  "core.askPass=",
  "core.attributesFile=/dev/null",
  "credential.helper=",
  "protocol.allow=never",
  "submodule.recurse=false",
  "commit.gpgSign=false",
  "tag.gpgSign=false",
  "user.name=twoloop",
  "user.email=twoloop@localhost",
]

const driverCommand = /^filter\.(.+)\.(clean|smudge|process|required)$/i

/** `-c` pairs that switch off the filter drivers named in `configNames` (output of `git config --list --name-only`). */
export const driverOverrides = (configNames: ReadonlyArray<string>): Array<string> => {
  const drivers = new Set<string>()
  for (const name of configNames) {
    const match = driverCommand.exec(name)
    if (match) drivers.add(match[1]!)
  }
  return [...drivers].flatMap((driver) => ["-c", `filter.${driver}.clean=`, "-c", `filter.${driver}.smudge=`, "-c", `filter.${driver}.process=`, "-c", `filter.${driver}.required=false`])
}

/** The environment of every git command: nothing inherited but the basics, no config outside the repository. */
export const gitEnvironment = (context: GitContext): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
  ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  LC_ALL: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_ATTR_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0",
  GIT_PAGER: "cat",
  GIT_EDITOR: "true",
  ...(context.gitDir ? { GIT_DIR: context.gitDir } : {}),
  ...(context.commonDir && context.commonDir !== context.gitDir ? { GIT_COMMON_DIR: context.commonDir } : {}),
  ...(context.workTree ? { GIT_WORK_TREE: context.workTree } : {}),
  ...context.env,
})

/**
 * The two settings of the user's global config that twoloop keeps, read once (before any experiment ran) and
 * passed on the command line: their ignore file (`core.excludesFile`: what a snapshot leaves out) and
 * `safe.directory` (repositories owned by another user they trust). Neither runs anything.
 */
let userSettings: Promise<Array<string>> | undefined
const userGlobalSettings = () =>
  (userSettings ??= execa("git", ["config", "--global", "--null", "--type=path", "--get-regexp", "^(core\\.excludesfile|safe\\.directory)$"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(process.env.HOME ? { HOME: process.env.HOME } : {}), GIT_CONFIG_NOSYSTEM: "1" },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  }).then((result) =>
    result.exitCode !== 0
      ? []
      : String(result.stdout)
          .split("\u0000")
          .filter((entry) => entry.includes("\n"))
          .flatMap((entry) => {
            const [key, ...value] = entry.split("\n")
            return ["-c", `${key!.toLowerCase() === "safe.directory" ? "safe.directory" : "core.excludesFile"}=${value.join("\n")}`]
          }),
  ))

/** The config files that define a repository's filter drivers, as a fingerprint of their metadata. */
const configFingerprint = (context: GitContext): string | undefined => {
  if (!context.gitDir) return undefined
  const files = [path.join(context.commonDir ?? context.gitDir, "config"), path.join(context.gitDir, "config.worktree"), path.join(context.commonDir ?? context.gitDir, "config.worktree")]
  return files
    .map((file) => {
      const stat = fs.statSync(file, { bigint: true, throwIfNoEntry: false })
      return stat ? `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}` : "-"
    })
    .join("|")
}

const overrideCache = new Map<string, { readonly fingerprint: string; readonly overrides: Array<string> }>()

const exec = (context: GitContext, args: ReadonlyArray<string>, strip: boolean) =>
  Effect.tryPromise({
    try: () => execa("git", args, { cwd: context.cwd, reject: false, stripFinalNewline: strip, env: gitEnvironment(context), extendEnv: false, stdin: "ignore" }),
    catch: (error) => new WorkspaceError({ message: `git in ${context.cwd}: ${String(error)}` }),
  })

/** The `-c` overrides for a repository: the fixed ones, the user's ignore file, and one set per filter driver. */
const overridesFor = (context: GitContext) =>
  Effect.gen(function* () {
    const fingerprint = configFingerprint(context)
    const key = context.gitDir
    const cached = key ? overrideCache.get(key) : undefined
    if (cached && fingerprint !== undefined && cached.fingerprint === fingerprint) return cached.overrides
    const fixed = [...neutralSettings.flatMap((setting) => ["-c", setting]), ...(yield* Effect.promise(userGlobalSettings))]
    const listed = yield* exec(context, [...fixed, "config", "--list", "--name-only", "-z"], false)
    const names = listed.exitCode === 0 ? String(listed.stdout).split("\u0000").filter((name) => name.length > 0) : []
    const overrides = [...fixed, ...driverOverrides(names)]
    // Included files can change without the fingerprinted ones changing: such configs are listed every time.
    const includes = names.some((name) => /^include(if\..*)?\.path$/i.test(name))
    if (key && fingerprint !== undefined && !includes) overrideCache.set(key, { fingerprint, overrides })
    return overrides
  })

/** Runs `git <args>` safely (see the module comment); resolves with stdout. */
export const runGit = (context: GitContext, args: ReadonlyArray<string>, options: { readonly strip?: boolean } = {}) =>
  Effect.gen(function* () {
    const overrides = yield* overridesFor(context)
    const result = yield* exec(context, [...overrides, ...args], options.strip ?? true)
    if (result.exitCode === 0) return String(result.stdout)
    return yield* new WorkspaceError({ message: `git ${args.join(" ")} failed in ${context.cwd}: ${String(result.stderr || result.stdout).trim().split("\n")[0]}` })
  })
