/**
 * Metric forgery by the editable code, with real processes, git and store: (1) it rewrites the readonly
 * evaluator before using it and puts the original bytes (and mtime) back afterwards, so hashes match before
 * and after the run — the write is still seen (the file's ctime moved) and the run is rejected; (2) it leaves
 * a detached process behind that prints a better metric line after the evaluator's — that process is killed
 * when the main process ends, so its line is never read as the metric.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll } from "vitest"
import { isAlive } from "../../../src/services/executor/processTree.ts"
import { configFor, makeProject, runPipeline } from "../../support/pipeline.ts"
import { tempDir } from "../../support/tmp.ts"

// The editable training file, hostile at the run numbered $FORGE_AT (counted in $EVIDENCE).
const hostileTrain = `
import * as fs from "node:fs"
import { spawn } from "node:child_process"
const counter = process.env.EVIDENCE + "/count"
const run = Number(fs.existsSync(counter) ? fs.readFileSync(counter, "utf8") : 0) + 1
fs.writeFileSync(counter, String(run))
const LEARNING_RATE = 0.01
const WIDTH = 16
const USE_NORM = false
const OPTIMIZER = "sgd" // one of: "sgd", "adam"
const knobs = { LEARNING_RATE, WIDTH, USE_NORM, OPTIMIZER }
if (process.env.FORGE === "rewrite" && run === Number(process.env.FORGE_AT)) {
  // Rewrite the evaluator to report a perfect loss, use it, put every byte and the mtime back.
  const harness = new URL("./prepare.mjs", import.meta.url)
  const original = fs.readFileSync(harness)
  const { mtime, atime } = fs.statSync(harness)
  fs.writeFileSync(harness, String(original).replace("const loss =", "const loss = 0.25 ?? "))
  const { evaluate } = await import("./prepare.mjs?forged")
  fs.writeFileSync(harness, original)
  fs.utimesSync(harness, atime, mtime)
  await evaluate(knobs)
} else {
  if (process.env.FORGE === "late-line" && run === Number(process.env.FORGE_AT)) {
    // A detached process that prints a better metric once the evaluator has printed its own.
    const late = spawn("sh", ["-c", 'echo $$ > "$EVIDENCE/late.pid"; sleep 1; echo "loss: 0.001"'], { detached: true, stdio: ["ignore", "inherit", "inherit"] })
    late.unref()
    while (!fs.existsSync(process.env.EVIDENCE + "/late.pid")) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const { evaluate } = await import("./prepare.mjs")
  await evaluate(knobs)
}
`

const evidenceDirs: Array<string> = []
afterAll(() => {
  for (const dir of evidenceDirs) {
    const pidFile = path.join(dir, "late.pid")
    if (!fs.existsSync(pidFile)) continue
    try {
      process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL")
    } catch {
      // already gone, as it should be
    }
  }
})

const runForged = (forge: "rewrite" | "late-line") =>
  Effect.gen(function* () {
    const { root, target } = makeProject("quadratic-target", { git: true })
    fs.writeFileSync(path.join(target, "train.mjs"), hostileTrain)
    const evidence = tempDir("twoloop-forge-")
    evidenceDirs.push(evidence)
    const config = configFor(root, {
      name: "forge",
      target: {
        dir: "target",
        editable: ["train.mjs"],
        readonly: ["prepare.mjs"],
        command: "node train.mjs",
        metric: { name: "loss", direction: "minimize" },
        timeBudgetSeconds: 10,
        env: { EVIDENCE: evidence, FORGE: forge, FORGE_AT: "3" },
      },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 4 }, pipelining: false }],
    })
    const summary = yield* runPipeline(config).effect
    expect(summary.status).toBe("completed")
    const db = new Database(config.store, { readonly: true })
    const rows = db.prepare("SELECT seq, status, metric, reason FROM experiments ORDER BY seq").all() as Array<{ seq: number; status: string; metric: number | null; reason: string | null }>
    db.close()
    expect(rows).toHaveLength(4)
    expect(fs.readFileSync(path.join(evidence, "count"), "utf8")).toBe("4")
    return { rows, evidence, target }
  })

describe("the metric comes from the untouched readonly evaluator", () => {
  it.live("rejects a run that rewrote the evaluator and put it back byte for byte", () =>
    Effect.gen(function* () {
      const { rows, target } = yield* runForged("rewrite")
      expect(rows[2]).toMatchObject({ status: "rejected", metric: null, reason: expect.stringContaining("readonly file prepare.mjs was written during the run") })
      expect(rows.filter((row) => row.seq !== 3).every((row) => row.status !== "rejected" && row.metric !== 0.25)).toBe(true)
      // The user's harness was never touched.
      expect(fs.readFileSync(path.join(target, "prepare.mjs"), "utf8")).toContain("const loss =\n")
    }))

  it.live("never reads a metric line printed by a process left behind after the main process ended", () =>
    Effect.gen(function* () {
      const { rows, evidence } = yield* runForged("late-line")
      expect(rows.map((row) => row.metric)).not.toContain(0.001)
      expect(rows[2]!.metric).toBeGreaterThan(1)
      const late = Number(fs.readFileSync(path.join(evidence, "late.pid"), "utf8"))
      expect(isAlive(late), "the detached process outlived the experiment").toBe(false)
    }))
})
