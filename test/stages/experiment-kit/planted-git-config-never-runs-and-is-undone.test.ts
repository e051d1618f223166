/**
 * The git config trap: an experiment plants commands in git's configuration of its worktree's repository
 * (`core.fsmonitor`, a clean/smudge filter driver with a `.gitattributes` that uses it, a pre-commit hook)
 * and rewrites its worktree's `.git` pointer. twoloop's own git commands must never run any of it, the
 * repository must be left as it was (so the user's next `git status` runs nothing either), and the
 * experiment is recorded as rejected with an event. Under bubblewrap `.git` is read-only: nothing changes.
 * Real processes, real git, a real store, in git mode (the user's repository) and copy mode.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"
import { tempDir } from "../../support/tmp.ts"

const hasBwrap = (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, "bwrap")))
const ci = process.env.CI === "true"

// Counts its runs in $EVIDENCE and plants at run $PLANT_AT (or every run). The planted commands would leave
// files named *-ran in $EVIDENCE, with the environment they ran with.
const plant = `
n=$(cat "$EVIDENCE/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$EVIDENCE/count" 2>/dev/null
if [ "$PLANT_AT" = "$n" ] || [ "$PLANT_AT" = every ]; then
  git config core.fsmonitor "env > '$EVIDENCE/fsmonitor-ran'; false" 2>/dev/null
  git config filter.evil.clean "sh -c 'env > \\"$EVIDENCE/clean-ran\\"; cat'" 2>/dev/null
  git config filter.evil.smudge "sh -c 'env > \\"$EVIDENCE/smudge-ran\\"; cat'" 2>/dev/null
  echo '* filter=evil' > .gitattributes
  hooks="$(git rev-parse --git-common-dir)/hooks"
  mkdir -p "$hooks" 2>/dev/null && printf '#!/bin/sh\\nenv > "%s/hook-ran"\\n' "$EVIDENCE" > "$hooks/pre-commit" 2>/dev/null && chmod +x "$hooks/pre-commit"
  if [ -f .git ]; then top=.; else top="$(git rev-parse --show-toplevel)"; fi
  printf 'gitdir: %s\\n' "$EVIDENCE/elsewhere" > "$top/.git" 2>/dev/null
fi
exit 0
`

/** Projects made outside /tmp (the sandbox has a private /tmp, which would hide them from the experiment). */
const outsideTmp: Array<string> = []
afterAll(() => {
  for (const dir of outsideTmp) fs.rmSync(dir, { recursive: true, force: true })
})

/** `git`: the project is a repository holding the target; `target-repo`: the target directory is the repository. */
const setupProject = (mode: "git" | "copy" | "target-repo") => {
  const made = makeProject("quadratic-target", { git: mode === "git" })
  let { root, target } = made
  if (mode === "target-repo") {
    root = fs.mkdtempSync(path.join(os.homedir(), ".twoloop-trap-test-"))
    outsideTmp.push(root)
    target = path.join(root, "target")
    fs.cpSync(made.target, target, { recursive: true })
  }
  fs.writeFileSync(path.join(target, "plant.sh"), plant)
  const repo = mode === "git" ? root : mode === "target-repo" ? target : undefined
  if (repo) {
    const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: repo })
    if (mode === "target-repo") git("init", "--quiet")
    git("add", "--all")
    git("commit", "-qm", "plant")
  }
  return { root, target, repo }
}

const configOf = (root: string, evidence: string, plantAt: string, sandbox: "none" | "bwrap") =>
  configFor(root, {
    name: "trap",
    target: {
      dir: "target",
      editable: ["train.mjs"],
      readonly: ["prepare.mjs"],
      command: "sh plant.sh; node train.mjs",
      metric: { name: "loss", direction: "minimize" },
      timeBudgetSeconds: 5,
      env: { EVIDENCE: evidence, PLANT_AT: plantAt },
    },
    executor: { kind: "local", gpus: "none", sandbox },
    stages: [{ kind: "code-search", name: "inner", budget: { experiments: 5 }, pipelining: false }],
  })

/** The repository's config as stored (read as a file: running git in it is what the test guards against). */
const configText = (gitDir: string) => fs.readFileSync(path.join(gitDir, "config"), "utf8")

const query = <A>(store: string, sql: string): Array<A> => {
  const db = new Database(store, { readonly: true })
  try {
    return db.prepare(sql).all() as Array<A>
  } finally {
    db.close()
  }
}

describe("a git config trap planted by an experiment", () => {
  for (const mode of ["git", "copy"] as const) {
    it.live(`never runs, is undone and recorded (${mode} mode)`, () =>
      Effect.gen(function* () {
        const { root } = setupProject(mode)
        const evidence = tempDir("twoloop-trap-")
        const config = configOf(root, evidence, "3", "none")
        const summary = yield* runPipeline(config).effect
        expect(summary.status).toBe("completed")
        expect(fs.readFileSync(path.join(evidence, "count"), "utf8").trim()).toBe("5")

        // Nothing planted ran: not fsmonitor, not a filter, not the hook.
        expect(fs.readdirSync(evidence).filter((name) => name.endsWith("-ran"))).toEqual([])
        // The repository is as it was.
        const gitDir = mode === "git" ? path.join(root, ".git") : path.join(summary.runDir, "repo", ".git")
        expect(configText(gitDir)).not.toMatch(/fsmonitor|evil/)
        expect(fs.existsSync(path.join(gitDir, "hooks", "pre-commit"))).toBe(false)
        const worktree = path.join(summary.runDir, "worktrees", "inner-w0")
        expect(fs.readFileSync(path.join(worktree, ".git"), "utf8")).toContain(path.join(gitDir, "worktrees"))
        // And so the user's own git runs nothing of it afterwards.
        execFileSync("git", ["status", "--porcelain"], { cwd: mode === "git" ? root : worktree })
        expect(fs.readdirSync(evidence).filter((name) => name.endsWith("-ran"))).toEqual([])

        const rows = query<{ seq: number; status: string; reason: string | null }>(config.store, "SELECT seq, status, reason FROM experiments ORDER BY seq")
        expect(rows).toHaveLength(5)
        expect(rows[2]).toMatchObject({ status: "rejected", reason: expect.stringMatching(/changed git's configuration.*config.*put it back/) })
        expect(rows.filter((row) => row.seq !== 3).every((row) => row.status !== "rejected")).toBe(true)
        const events = query<{ message: string }>(config.store, "SELECT message FROM events WHERE kind = 'git-config-restored'")
        expect(events).toHaveLength(1)
        expect(events[0]!.message).toMatch(/experiment #\d+ changed .*config/)
      }))
  }

  it.live.skipIf(!hasBwrap && !ci)("cannot even be planted under bubblewrap: .git is read-only, the worktree's pointer too", () =>
    Effect.gen(function* () {
      expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
      // The target is the repository, so the worktree's .git pointer lies inside the writable workspace.
      const { root, target } = setupProject("target-repo")
      const before = configText(path.join(target, ".git"))
      const evidence = tempDir("twoloop-trap-")
      const config = configOf(root, evidence, "every", "bwrap")
      const summary = yield* runPipeline(config).effect
      expect(summary.status).toBe("completed")
      expect(fs.readdirSync(evidence).filter((name) => name.endsWith("-ran"))).toEqual([])
      expect(configText(path.join(target, ".git"))).toBe(before)
      expect(fs.existsSync(path.join(target, ".git", "hooks", "pre-commit"))).toBe(false)
      expect(fs.readFileSync(path.join(summary.runDir, "worktrees", "inner-w0", ".git"), "utf8")).toContain(path.join(target, ".git", "worktrees"))
      expect(query(config.store, "SELECT id FROM events WHERE kind = 'git-config-restored'")).toEqual([])
      expect(query<{ status: string }>(config.store, "SELECT status FROM experiments").every((row) => row.status !== "rejected")).toBe(true)
    }))
})
