/**
 * Ctrl-C twice on `twoloop run` while the experiment ignores SIGTERM and has left a detached daemon behind
 * that also ignores SIGTERM and holds the experiment's stdout open: twoloop exits within seconds (not at the
 * hard limit, not when the daemon pleases), nothing of the experiment survives, and the run is resumable.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { isAlive } from "../../src/services/executor/processTree.ts"
import { twoloop } from "../support/cli.ts"
import { makeProject } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const pidsDir = tempDir("twoloop-hostile-pids-")
afterAll(() => {
  // Whatever the code under test did, the test leaves no hostile process behind.
  for (const name of fs.readdirSync(pidsDir)) {
    try {
      process.kill(Number(fs.readFileSync(path.join(pidsDir, name), "utf8")), "SIGKILL")
    } catch {
      // gone
    }
  }
})

const until = async (what: string, check: () => boolean, timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("Ctrl-C twice", () => {
  it("stops an experiment that ignores SIGTERM and a daemon holding its output, within seconds", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const hostile = [
      `( setsid sh -c 'echo $$ > "$PIDS/daemon"; trap "" TERM; exec sleep 600' & )`,
      `echo $$ > "$PIDS/main"`,
      `trap "" TERM INT`,
      "sleep 600",
    ].join("; ")
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({
        name: "ctrl-c",
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: hostile, metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 300, env: { PIDS: pidsDir } },
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 3 }, killGraceSeconds: 2 }],
      }),
    )
    const run = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, timeout: 300_000 })
    try {
      const pidOf = (name: string) => (fs.existsSync(path.join(pidsDir, name)) ? Number(fs.readFileSync(path.join(pidsDir, name), "utf8")) : undefined)
      await until("the experiment and its daemon", () => pidOf("daemon") !== undefined && pidOf("main") !== undefined)
      run.kill("SIGINT")
      await new Promise((resolve) => setTimeout(resolve, 500))
      const second = Date.now()
      run.kill("SIGINT")
      const result = await run
      const seconds = (Date.now() - second) / 1000
      expect(result.exitCode, String(result.all)).toBe(130)
      expect(seconds, String(result.all)).toBeLessThan(30)
      for (const name of ["main", "daemon"]) expect(isAlive(pidOf(name)!), `${name} outlived the run`).toBe(false)
      const db = new Database(path.join(root, ".twoloop", "twoloop.db"), { readonly: true })
      const runs = db.prepare("SELECT status FROM runs").all() as Array<{ status: string }>
      const experiments = db.prepare("SELECT status FROM experiments").all() as Array<{ status: string }>
      db.close()
      expect(runs).toEqual([{ status: "interrupted" }])
      // The interrupted experiment went back to the queue; resume runs it again.
      expect(experiments.length).toBeGreaterThan(0)
      expect(experiments.every((e) => e.status === "planned")).toBe(true)
    } finally {
      run.kill("SIGKILL")
    }
  })
})
