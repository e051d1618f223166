/**
 * Careless inputs through the real CLI: a time budget longer than Node's longest timer runs (instead of
 * every run timing out at once), an absurd one is a one-line config error, the same file spelt two ways in
 * `editable` and `readonly` is caught, and a home directory that is not under git is refused with one line
 * (nothing copied) unless `target.copyAnyDir` says otherwise. The size limit of copy mode is checked on a
 * sparse file.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { copyLimits, copyRefusal } from "../../src/services/workspace/copyTarget.ts"
import { twoloop } from "../support/cli.ts"
import { fixtureDir, makeProject } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const writeConfig = (root: string, target: Record<string, unknown>, experiments = 3) =>
  fs.writeFileSync(
    path.join(root, "pipeline.config.json"),
    JSON.stringify({
      name: "careless",
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5, ...target },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments } }],
    }),
  )

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).map((name) => path.join(dir, name)) : []

const expectOneLine = (result: { exitCode?: number | undefined; stderr?: unknown }, pattern: RegExp) => {
  expect(result.exitCode).toBe(1)
  const stderr = String(result.stderr).trim()
  expect(stderr.split("\n"), stderr).toHaveLength(1)
  expect(stderr).toMatch(pattern)
}

describe("time budgets", () => {
  it("runs experiments under a budget longer than Node's longest timer", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, { timeBudgetSeconds: 1e7 })
    const run = await twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: root, timeout: 240_000 })
    expect(run.exitCode, String(run.all)).toBe(0)
    const db = new Database(path.join(root, ".twoloop", "twoloop.db"), { readonly: true })
    const rows = db.prepare("SELECT purpose, status FROM experiments ORDER BY seq").all() as Array<{ purpose: string; status: string }>
    db.close()
    // Every run ended on its own and was measured: none timed out at once.
    expect(rows).toHaveLength(3)
    expect(rows.slice(0, 2)).toEqual([
      { purpose: "baseline", status: "measured" },
      { purpose: "baseline", status: "measured" },
    ])
    expect(["keep", "discard"]).toContain(rows[2]!.status)
  }, 300_000)

  it("refuses one past ten years with a one-line config error", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, { timeBudgetSeconds: 1e12 })
    const run = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: root })
    expectOneLine(run, /target\.timeBudgetSeconds: expected at most 315360000 seconds \(ten years\)/)
    expect(fs.existsSync(path.join(root, ".twoloop"))).toBe(false)
  }, 300_000)
})

describe("target paths", () => {
  it("catches the same file spelt two ways in editable and readonly", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    writeConfig(root, { editable: ["train.mjs"], readonly: ["./train.mjs"] })
    const run = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: root })
    expectOneLine(run, /target\.readonly\[0\]: "\.\/train\.mjs" is the same file as target\.editable\[0\] \("train\.mjs"\)/)
    expect(fs.existsSync(path.join(root, ".twoloop"))).toBe(false)
  }, 300_000)

  it("refuses to copy a home directory that is not under git, unless told to", async () => {
    const home = tempDir("twoloop-home-dir-")
    fs.cpSync(fixtureDir("quadratic-target"), home, { recursive: true })
    fs.mkdirSync(path.join(home, ".ssh"))
    fs.writeFileSync(path.join(home, ".ssh", "id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY----- (test)\n")
    const project = tempDir("twoloop-project-")
    writeConfig(project, { dir: home })
    const refused = await twoloop(["run", "--config", "pipeline.config.json"], { cwd: project, env: { HOME: home } })
    expectOneLine(refused, /target\.dir .* is your home directory and is not under git: .*\.ssh and \.aws included.*target\.copyAnyDir: true/)
    expect(filesUnder(project).filter((file) => file.includes(".ssh"))).toEqual([])
    expect(fs.existsSync(path.join(project, ".twoloop", "runs")), "refused before the run existed").toBe(false)

    writeConfig(project, { dir: home, copyAnyDir: true })
    const allowed = await twoloop(["run", "--config", "pipeline.config.json", "--quiet"], { cwd: project, env: { HOME: home }, timeout: 240_000 })
    expect(allowed.exitCode, String(allowed.all)).toBe(0)
  }, 300_000)

  it("refuses to copy a directory over the size limit (a sparse file, nothing is written)", () => {
    const dir = tempDir("twoloop-big-")
    fs.writeFileSync(path.join(dir, "train.py"), "print('val_bpb: 1')\n")
    expect(copyRefusal(dir)).toBeUndefined()
    fs.writeFileSync(path.join(dir, "data.bin"), "")
    fs.truncateSync(path.join(dir, "data.bin"), copyLimits.bytes + 1)
    expect(copyRefusal(dir)).toMatch(/is not under git and holds more than 512 MB or 50000 files: .*target\.copyAnyDir: true/)
    expect(copyRefusal("/")).toMatch(/is the filesystem root/)
  })
})
