/**
 * The hybrid arm offline on the benchmark's interaction target (adam diverges at sgd's learning rate): the
 * outer stage measures moves at its proxy budget, reuses a result instead of re-running the same edit on the
 * same scenario, and hands every measured edit over with its proxy Δ; the inner stage re-validates the
 * strongest ones first, through its keep gate, and reports which held.
 */
import { it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { targetNamed, trainScript } from "../../../bench/targets/synthetic.mjs"
import { configFor, runPipeline } from "../../support/pipeline.ts"
import { tempDir } from "../../support/tmp.ts"

const project = () => {
  const root = tempDir("twoloop-handoff-")
  const target = path.join(root, "target")
  fs.mkdirSync(target)
  fs.writeFileSync(path.join(target, "train.mjs"), trainScript(targetNamed("interaction")))
  fs.copyFileSync(path.resolve(import.meta.dirname, "../../../bench/targets/synthetic.mjs"), path.join(target, "harness.mjs"))
  execFileSync("git", ["init", "--quiet"], { cwd: root })
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "empty"], { cwd: root })
  execFileSync("git", ["add", "--all"], { cwd: root })
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "target"], { cwd: root })
  return root
}

describe("the outer stage's evidence", () => {
  it.effect("is handed over edit by edit and re-validated at the full budget, strongest first", () =>
    Effect.gen(function* () {
      const root = project()
      const config = configFor(root, {
        model: "offline",
        seed: 1,
        target: { dir: "target", editable: ["train.mjs"], readonly: ["harness.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 10 },
        stages: [
          { kind: "gepa", name: "outer", budget: { metricCalls: 18 }, adapter: { kind: "research", scenarios: 3, proxyTimeBudgetSeconds: 2 } },
          { kind: "code-search", name: "inner", budget: { experiments: 8 }, revalidate: 2, pipelining: false },
        ],
      })
      const summary = yield* runPipeline(config).effect
      expect(summary.status).toBe("completed")
      const db = new Database(config.store, { readonly: true })
      const stage = (name: string) => db.prepare("SELECT id, handoff_json, summary_json FROM stages WHERE name = ?").get(name) as { id: number; handoff_json: string; summary_json: string }
      const outer = stage("outer")
      const handoff = JSON.parse(outer.handoff_json) as { edits: Array<{ description: string; proxyDelta: number | null; proxyNoise: number; tries: number; budgetSeconds: number; assignments: Array<{ name: string }> }>; directions: Array<{ evidence?: { budgetSeconds?: number } }> }
      const proxies = db.prepare("SELECT seq, scenario, status, started_at, reason, edit_json FROM experiments WHERE stage_id = ? AND purpose = 'proxy' ORDER BY seq").all(outer.id) as Array<Record<string, any>>

      // every measured proxy edit is handed over with its evidence and the budget it was measured at
      const ranProxies = proxies.filter((p) => p.started_at !== null && p.status !== "rejected")
      expect(handoff.edits.length).toBeGreaterThan(0)
      expect(handoff.edits.reduce((sum, e) => sum + e.tries, 0)).toBe(ranProxies.length)
      expect(handoff.edits.every((e) => e.budgetSeconds === 2)).toBe(true)
      expect(handoff.directions.every((d) => d.evidence?.budgetSeconds === 2)).toBe(true)
      const deltas = handoff.edits.map((e) => e.proxyDelta ?? -Infinity)
      expect(deltas).toEqual([...deltas].sort((a, b) => b - a))
      // the switch to adam crashed at sgd's learning rate, and was retried with the learning rate rescaled
      expect(handoff.edits.some((e) => e.description === 'OPTIMIZER "sgd" -> "adam"' && e.proxyDelta === null)).toBe(true)
      expect(handoff.edits.some((e) => e.assignments.map((a) => a.name).sort().join() === "LEARNING_RATE,OPTIMIZER" && (e.proxyDelta ?? 0) > 0.1)).toBe(true)
      // the same edit on the same scenario is not run twice: the result is reused, and says so
      const reused = proxies.filter((p) => p.started_at === null && p.status !== "rejected")
      expect(reused.length).toBeGreaterThan(0)
      for (const row of reused) {
        expect(row.reason).toMatch(/^same edit as proxy run #\d+ on scenario s\d; not run again/)
        const source = proxies.find((p) => p.seq === Number(/#(\d+)/.exec(row.reason)![1]))!
        expect(source.scenario.split("@")[0]).toBe(row.scenario.split("@")[0])
      }

      // the inner stage re-validates the strongest handed edits first (above twice the proxy noise, at most 2)
      const inner = stage("inner")
      const rows = db.prepare("SELECT seq, purpose, proposer, scenario, status, description FROM experiments WHERE stage_id = ? ORDER BY seq").all(inner.id) as Array<Record<string, any>>
      const revalidated = rows.filter((r) => r.proposer === "handoff")
      const strong = handoff.edits.filter((e) => e.proxyDelta !== null && e.proxyDelta > 2 * e.proxyNoise)
      expect(revalidated.length).toBeGreaterThan(0)
      expect(revalidated.length).toBeLessThanOrEqual(2)
      expect(revalidated[0]!.scenario).toBe(`handoff:${handoff.edits.indexOf(strong[0]!)}`)
      expect(revalidated[0]!.description).toBe(strong[0]!.description)
      // in order of strength: each strong edit ran, or was skipped because an earlier one changed what it touches
      const skipped = (db.prepare("SELECT message FROM events WHERE kind = 'handoff-skipped'").all() as Array<{ message: string }>).map((e) => e.message)
      const seen = strong.slice(0, revalidated.length + skipped.length).map((e) => (revalidated.some((r) => r.description === e.description) ? "ran" : skipped.some((m) => m.includes(`"${e.description}"`)) ? "skipped" : "missing"))
      expect(seen).not.toContain("missing")
      const firstOffline = rows.find((r) => r.proposer === "offline" && r.purpose === "candidate")
      if (firstOffline) expect(revalidated.every((r) => r.seq < firstOffline.seq)).toBe(true)
      // and reports what held
      const innerSummary = JSON.parse(inner.summary_json) as { transfers: Array<{ description: string; outcome: string }> }
      expect(innerSummary.transfers).toHaveLength(handoff.edits.length)
      for (const row of revalidated) {
        const transfer = innerSummary.transfers[Number(row.scenario.split(":")[1])]!
        expect(transfer.outcome).toBe(row.status === "keep" ? "held" : "did not hold")
      }
      db.close()
      const report = fs.readFileSync(summary.reportFile!, "utf8")
      expect(report).toContain("Handed-over edits")
      expect(report).toMatch(/Transfer rate \d+ of \d+ held/)
    }),
  )
})
