/**
 * `twoloop clean` through the real CLI, on a git project with a completed run (kept edits) and a failed one
 * (its baseline crashed): a dry run changes nothing, a run another process holds is never touched, failed
 * runs go first with --failed, a completed run keeps its best branch (pointing at its best commit) unless
 * --all, and a cleaned run cannot be resumed. The store keeps every row.
 */
import Database from "better-sqlite3"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const config = (command: string) => ({
  name: "cleaning",
  target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command, metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
  executor: { kind: "local", gpus: "none" },
  stages: [{ kind: "code-search", name: "inner", budget: { experiments: 5 } }],
})

describe("twoloop clean", () => {
  it("removes worktrees, run directories and branches of finished runs, keeps the best branch unless --all, never touches a held run", async () => {
    const root = tempDir("twoloop-clean-")
    fs.cpSync(fixtureDir("quadratic-target"), path.join(root, "target"), { recursive: true })
    fs.writeFileSync(path.join(root, "pipeline.config.json"), JSON.stringify(config("node train.mjs")))
    fs.writeFileSync(path.join(root, "crashing.config.json"), JSON.stringify(config('node -e "process.exit(3)"')))
    const git = (...args: Array<string>) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: root, stdio: "pipe" }).toString().trim()
    git("init", "--quiet")
    git("add", "--all")
    git("commit", "--quiet", "-m", "initial")
    const env = { TWOLOOP_HOME: tempDir() }
    const cli = (...args: Array<string>) => twoloop(args, { cwd: root, env })

    const completed = await cli("run", "--quiet")
    expect(completed.exitCode, String(completed.all)).toBe(0)
    const good = /run (\S+) completed/.exec(String(completed.stdout))![1]!
    const crashed = await cli("run", "--config", "crashing.config.json", "--quiet")
    expect(crashed.exitCode).toBe(1)
    const store = path.join(root, ".twoloop/twoloop.db")
    const bad = (new Database(store, { readonly: true }).prepare("SELECT id FROM runs WHERE status = 'failed'").get() as { id: string }).id
    const runDir = (id: string) => path.join(root, ".twoloop/runs", id)
    const branches = () => git("branch", "--list", "twoloop/*").split("\n").map((b) => b.replace(/^[*+ ]+/, "")).filter((b) => b.length > 0).sort()
    const worktrees = () => git("worktree", "list").split("\n").length - 1
    expect(branches()).toEqual([`twoloop/${bad}/inner-w0`, `twoloop/${good}/inner-w0`].sort())
    expect(worktrees()).toBe(2)
    const db = new Database(store, { readonly: true })
    const bestCommit = (JSON.parse((db.prepare("SELECT summary_json FROM stages WHERE run_id = ?").get(good) as { summary_json: string }).summary_json) as { bestCommit: string }).bestCommit
    const kept = (db.prepare("SELECT COUNT(*) AS n FROM experiments WHERE status = 'keep'").get() as { n: number }).n
    db.close()
    expect(kept).toBeGreaterThan(0)

    const dry = await cli("clean", "--dry-run")
    expect(dry.exitCode, String(dry.all)).toBe(0)
    expect(String(dry.stdout)).toContain(`run ${good} (completed): would remove 1 worktree, 0 branches, .twoloop/runs/${good}; kept twoloop/${good}/inner-w0`)
    expect(String(dry.stdout)).toContain(`run ${bad} (failed): would remove 1 worktree, 1 branch, .twoloop/runs/${bad}`)
    expect(branches()).toHaveLength(2)
    expect(worktrees()).toBe(2)

    // Another process holds the failed run (a fresh heartbeat): it is left alone.
    const writer = new Database(store)
    writer.prepare("UPDATE runs SET lock_owner = 'elsewhere:4242', lock_heartbeat = ? WHERE id = ?").run(Date.now(), bad)
    const held = await cli("clean", "--failed")
    expect(String(held.stdout).trim()).toMatch(new RegExp(`^run ${bad} \\(failed\\): skipped, running \\(held by elsewhere:4242, heartbeat \\d+ s ago\\)$`))
    expect(fs.existsSync(runDir(bad))).toBe(true)
    writer.prepare("UPDATE runs SET lock_owner = NULL, lock_heartbeat = NULL WHERE id = ?").run(bad)
    writer.close()

    const failedOnly = await cli("clean", "--failed")
    expect(String(failedOnly.stdout).trim()).toBe(`run ${bad} (failed): removed 1 worktree, 1 branch, .twoloop/runs/${bad}`)
    expect(fs.existsSync(runDir(bad))).toBe(false)
    expect(fs.existsSync(runDir(good))).toBe(true)
    expect(branches()).toEqual([`twoloop/${good}/inner-w0`])
    const resumed = await cli("resume", bad)
    expect(resumed.exitCode).toBe(1)
    expect(String(resumed.stderr).trim()).toBe(`twoloop: run ${bad} was cleaned (twoloop clean removed its worktrees and branches) and cannot be resumed; start a new run`)

    const all = await cli("clean")
    expect(String(all.stdout)).toContain(`run ${good} (completed): removed 1 worktree, 0 branches, .twoloop/runs/${good}; kept twoloop/${good}/inner-w0`)
    expect(String(all.stdout)).toContain(`run ${bad} (failed): nothing left to remove`)
    expect(fs.existsSync(runDir(good))).toBe(false)
    expect(worktrees()).toBe(0)
    expect(git("rev-parse", `twoloop/${good}/inner-w0`)).toBe(bestCommit)
    expect(git("status", "--porcelain")).toBe("")

    const everything = await cli("clean", "--all", good)
    expect(String(everything.stdout).trim()).toBe(`run ${good} (completed): removed 0 worktrees, 1 branch`)
    expect(branches()).toEqual([])
    // The store still has both runs, with their cleaning recorded.
    const after = new Database(store, { readonly: true })
    expect((after.prepare("SELECT COUNT(*) AS n FROM runs").get() as { n: number }).n).toBe(2)
    expect((after.prepare("SELECT COUNT(*) AS n FROM events WHERE kind = 'run-cleaned'").get() as { n: number }).n).toBe(3)
    after.close()
    const unknown = await cli("clean", "20990101-000000-0000")
    expect(unknown.exitCode).toBe(1)
    expect(String(unknown.stderr).trim()).toBe(`twoloop: no run 20990101-000000-0000 in ${store}`)
  }, 300_000)
})
