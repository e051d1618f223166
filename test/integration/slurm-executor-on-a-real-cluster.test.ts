/**
 * The SLURM executor against a real single-node SLURM (see test/support/slurm.ts): a code-search stage whose
 * experiments are batch jobs, two in flight, bookkeeping identical to the local executor's; an interrupted
 * run cancels its jobs; a run killed outright re-attaches to its job on resume.
 */
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { configFor, fixtureDir, makeProject, runPipeline } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"
import { ensureSlurm, jobState, queuedTwoloopJobs, slurmUnavailable } from "../support/slurm.ts"

const ci = process.env.CI === "true"
if (slurmUnavailable && !ci) console.warn(`skipping the SLURM executor tests: ${slurmUnavailable}`)

/** The fixture target; its time budget only sets the hard limit (2 × 300 + 30 s), far above any wait at a gate. */
const target = (env: Record<string, string>) => ({
  dir: "target",
  editable: ["train.mjs"],
  readonly: ["prepare.mjs"],
  command: "node train.mjs",
  metric: { name: "loss", direction: "minimize" },
  timeBudgetSeconds: 300,
  env,
})

const lockOwner = (store: string) => {
  const db = new Database(store, { readonly: true })
  try {
    return (db.prepare("SELECT lock_owner FROM runs").get() as { lock_owner: string | null }).lock_owner
  } finally {
    db.close()
  }
}

const rowsOf = (store: string) => {
  const db = new Database(store, { readonly: true })
  const rows = db.prepare("SELECT * FROM experiments ORDER BY seq").all() as Array<Record<string, any>>
  db.close()
  return rows
}

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 300_000) => {
  const deadline = Date.now() + timeoutMs
  // A check that throws (e.g. the store exists but has no tables yet) counts as not yet.
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe.skipIf(slurmUnavailable !== undefined && !ci)("the SLURM executor on a real cluster", () => {
  let stop: () => Promise<void> = async () => {}
  beforeAll(async () => {
    expect(slurmUnavailable, "CI must install slurm-wlm and munge (see .ci/run)").toBeUndefined()
    stop = await ensureSlurm()
  })
  afterAll(() => stop())

  it("runs a code-search stage as batch jobs, two in flight, with the local executor's bookkeeping", async () => {
    const stage = { kind: "code-search", name: "inner", workers: 2, budget: { experiments: 4 } }
    // The two baselines wait for each other (FIXTURE_RENDEZVOUS): both can only end if both ran at once.
    const slurmProject = makeProject("quadratic-target", { git: true })
    const slurm = configFor(slurmProject.root, { target: target({ FIXTURE_RENDEZVOUS: tempDir("twoloop-rendezvous-") }), executor: { kind: "slurm", maxJobs: 2, pollSeconds: 0.2 }, stages: [stage] })
    const localProject = makeProject("quadratic-target", { git: true })
    const local = configFor(localProject.root, { target: target({ FIXTURE_RENDEZVOUS: tempDir("twoloop-rendezvous-") }), executor: { kind: "local", gpus: "none", cpuSlots: 2 }, stages: [stage] })

    const run = (config: typeof slurm) => Effect.runPromise(runPipeline(config).effect as Effect.Effect<unknown, unknown>)
    await run(slurm)
    await run(local)
    const onCluster = rowsOf(slurm.store)
    const onHost = rowsOf(local.store)

    // With two workers, which worker proposes first is a race, so rows are matched by what ran (the edit and
    // the seed), not by position. What the executor owns must be identical: the metric, the exit, the diff.
    expect(onCluster).toHaveLength(4)
    const byRun = (rows: Array<Record<string, any>>) => new Map(rows.map((r) => [`${r.purpose} ${r.description} seed ${r.seed}`, [r.metric, r.exit_code, r.diff, r.status === "crash" || r.status === "timeout"]]))
    const cluster = byRun(onCluster)
    const host = byRun(onHost)
    const common = [...cluster.keys()].filter((key) => host.has(key))
    expect(common.filter((key) => key.startsWith("baseline"))).toHaveLength(2)
    for (const key of common) expect(cluster.get(key), key).toEqual(host.get(key))
    expect(onCluster.filter((r) => r.purpose === "candidate").length).toBeGreaterThanOrEqual(1)
    // Every candidate that ran on the cluster measured what its edit gives when run here by hand.
    for (const row of onCluster.filter((r) => r.purpose === "candidate")) {
      const dir = tempDir("twoloop-slurm-check-")
      fs.cpSync(fixtureDir("quadratic-target"), dir, { recursive: true })
      fs.writeFileSync(path.join(dir, "edit.diff"), row.diff)
      execFileSync("git", ["apply", "edit.diff"], { cwd: dir })
      const out = execFileSync("node", ["train.mjs"], { cwd: dir, encoding: "utf8", env: { ...process.env, TWOLOOP_SEED: String(row.seed), TWOLOOP_TIME_BUDGET: "300" } })
      expect(Number(/^loss: ([\d.]+)$/m.exec(out)![1]), row.description).toBeCloseTo(row.metric, 10)
    }
    const countBy = (rows: Array<Record<string, any>>) => rows.map((r) => r.purpose).sort()
    expect(countBy(onCluster)).toEqual(countBy(onHost))
    for (const row of onCluster) {
      expect(["measured", "keep", "discard"]).toContain(row.status)
      expect(row.job_id, `experiment ${row.seq} has a job id`).toMatch(/^\d+$/)
      expect(row.pid).toBeNull()
      expect(await jobState(row.job_id)).toBe("COMPLETED")
      expect(fs.readFileSync(row.log_path, "utf8")).toMatch(/^loss: [\d.]+$/m)
    }
    expect(onHost.every((r) => r.job_id === null)).toBe(true)
    // the two baselines were in flight together
    const [a, b] = onCluster.filter((r) => r.purpose === "baseline").map((r) => ({ start: Date.parse(r.started_at), end: Date.parse(r.ended_at) }))
    expect(a!.start < b!.end && b!.start < a!.end).toBe(true)
    expect(await queuedTwoloopJobs()).toEqual([])
  })

  /**
   * A config whose jobs wait while the file `gate` exists (FIXTURE_WAIT_WHILE), so that a job the test sees
   * running is still running when the test acts on it, however slow the machine.
   */
  const writeConfig = (root: string) => {
    const gate = path.join(root, "gate")
    fs.writeFileSync(gate, "")
    fs.writeFileSync(
      path.join(root, "pipeline.config.json"),
      JSON.stringify({
        name: "slurm-interrupt",
        target: target({ FIXTURE_WAIT_WHILE: gate }),
        executor: { kind: "slurm", maxJobs: 2, pollSeconds: 0.2 },
        stages: [{ kind: "code-search", name: "inner", workers: 2, budget: { experiments: 3 } }],
      }),
    )
    return { openGate: () => fs.rmSync(gate, { force: true }) }
  }
  const env = () => ({ SLURM_CONF: process.env.SLURM_CONF!, TWOLOOP_HOME: path.join(process.env.TWOLOOP_HOME ?? "/tmp", "slurm-cli") })

  it("cancels its jobs when interrupted, leaves nothing in squeue, and reruns them on resume", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const { openGate } = writeConfig(root)
    const run = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, env: env() })
    await until("two jobs in the queue", async () => (await queuedTwoloopJobs()).length === 2)
    const jobs = await queuedTwoloopJobs()
    // The first Ctrl-C lets running experiments finish (these never would: they wait at the gate); the
    // second, sent once the first was heard (two signals sent at once may arrive as one), stops them now.
    let output = ""
    run.all?.on("data", (chunk: Buffer) => (output += chunk.toString()))
    run.kill("SIGINT")
    await until("the first Ctrl-C to be heard", async () => output.includes("press Ctrl-C again"))
    run.kill("SIGINT")
    const ended = await run
    expect(String(ended.all)).toMatch(/twoloop: interrupted/)
    expect(await queuedTwoloopJobs()).toEqual([])
    for (const job of jobs) expect(await jobState(job)).toBe("CANCELLED")
    const store = path.join(root, ".twoloop/twoloop.db")
    const rows = rowsOf(store)
    expect(rows.filter((r) => r.status === "running")).toEqual([])
    expect(rows.filter((r) => r.status === "planned")).toHaveLength(2)

    openGate()
    const runId = /run (\S+) interrupted/.exec(String(ended.all))?.[1] ?? (new Database(store, { readonly: true }).prepare("SELECT id FROM runs").get() as { id: string }).id
    const resumed = await twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root, env: env(), timeout: 600_000 })
    expect(resumed.exitCode, String(resumed.all)).toBe(0)
    const after = rowsOf(store)
    expect(after).toHaveLength(3)
    expect(after.every((r) => r.status !== "planned" && r.status !== "running" && r.job_id && !jobs.includes(r.job_id))).toBe(true)
  })

  it("re-attaches on resume to a job that kept running after twoloop was killed", async () => {
    const { root } = makeProject("quadratic-target", { git: true })
    const { openGate } = writeConfig(root)
    const run = twoloop(["run", "--config", "pipeline.config.json"], { cwd: root, env: env() })
    const store = path.join(root, ".twoloop/twoloop.db")
    await until("two running jobs recorded", async () => fs.existsSync(store) && rowsOf(store).filter((r) => r.status === "running" && r.job_id).length === 2)
    run.kill("SIGKILL")
    await run
    const orphaned = rowsOf(store).filter((r) => r.status === "running").map((r) => r.job_id as string)
    expect(orphaned).toHaveLength(2)
    expect((await queuedTwoloopJobs()).sort()).toEqual([...orphaned].sort())

    const runId = (new Database(store, { readonly: true }).prepare("SELECT id FROM runs").get() as { id: string }).id
    // (the killed process's lock is taken over: its pid is dead on this host). The jobs are held at the
    // gate until the resumed process holds the lock, so it finds them still running.
    const resuming = twoloop(["resume", runId, "--config", "pipeline.config.json"], { cwd: root, env: env(), timeout: 600_000 })
    await until("the resumed process to take the lock", async () => lockOwner(store) === `${os.hostname()}:${resuming.pid}`)
    expect((await queuedTwoloopJobs()).sort()).toEqual([...orphaned].sort())
    openGate()
    const resumed = await resuming
    expect(String(resumed.all)).not.toMatch(/cancelled SLURM job/)
    expect(resumed.exitCode, String(resumed.all)).toBe(0)
    const after = rowsOf(store)
    expect(after).toHaveLength(3)
    for (const job of orphaned) {
      const row = after.find((r) => r.job_id === job)
      expect(row, `the row of job ${job} kept its job id`).toBeDefined()
      expect(["measured", "keep", "discard"]).toContain(row!.status)
      expect(row!.metric).toBeGreaterThan(0)
      expect(await jobState(job)).toBe("COMPLETED")
    }
    expect(await queuedTwoloopJobs()).toEqual([])
  })
})
