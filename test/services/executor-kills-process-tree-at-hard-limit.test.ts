import { describe, expect, it } from "@effect/vitest"
import { afterAll } from "vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { type RunSpec, makeLocalExecutor } from "../../src/services/Executor.ts"
import { isAlive } from "../../src/services/executor/processTree.ts"
import { tempDir } from "../support/tmp.ts"

const fixtures = path.resolve(import.meta.dirname, "../fixtures/processes")
const executor = makeLocalExecutor({ sandbox: "none", gpus: "none" })

const spec = (overrides: Partial<RunSpec> & Pick<RunSpec, "command">): RunSpec => {
  const dir = tempDir()
  return {
    runId: "test-run",
    experimentId: 1,
    cwd: dir,
    env: {},
    slot: { index: 0, gpu: null },
    hardLimitSeconds: 30,
    killGraceSeconds: 1,
    logPath: path.join(dir, "run.log"),
    ...overrides,
  }
}

v8.setFlagsFromString("--expose_gc")
const gc = vm.runInNewContext("gc") as () => void
const retained = () => {
  gc()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

/** Hostile processes the tests start, killed after the file whatever the code under test did with them. */
const hostile = { pids: new Set<number>(), pidFiles: new Set<string>() }
afterAll(() => {
  for (const file of hostile.pidFiles) if (fs.existsSync(file)) hostile.pids.add(Number(fs.readFileSync(file, "utf8")))
  for (const pid of hostile.pids) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
})

/** Polls until the process is gone (killed processes still need a moment of CPU to exit on a busy machine). */
const waitUntilDead = async (pid: number) => {
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100))
  return !isAlive(pid)
}

describe("local executor", () => {
  it.live("kills a process and its SIGTERM-ignoring child at the hard limit", () =>
    Effect.gen(function* () {
      const pids: Array<number> = []
      const ending = yield* executor.run(
        spec({
          // exec: the process the executor started is the one that ignores SIGTERM (not a shell around it)
          command: `exec node ${fixtures}/fork-sleeper.mjs`,
          hardLimitSeconds: 1,
          onStdoutLine: (line) => {
            const match = /^(parent|child) (\d+)$/.exec(line)
            if (match) pids.push(Number(match[2]))
          },
        }),
      )
      // It ignores SIGTERM, so it ended by the SIGKILL that follows the grace: not before limit + grace (2 s),
      // and (a bound far above the 2 s, for a busy machine) not at some much later deadline.
      expect(ending.timedOut).toBe(true)
      expect(ending.signal).toBe("SIGKILL")
      expect(ending.seconds).toBeGreaterThanOrEqual(2)
      expect(ending.seconds).toBeLessThan(20)
      expect(pids).toHaveLength(2)
      for (const pid of pids) expect(yield* Effect.promise(() => waitUntilDead(pid))).toBe(true)
    }))

  it.live("holds the hard limit when a detached daemon that ignores SIGTERM keeps its stdout open", () =>
    Effect.gen(function* () {
      const daemons: Array<number> = []
      const ending = yield* executor.run(
        spec({
          command: `( setsid sh -c 'echo daemon $$; trap "" TERM; exec sleep 600' & ); sleep 600`,
          hardLimitSeconds: 2,
          onStdoutLine: (line) => {
            const match = /^daemon (\d+)$/.exec(line)
            if (match) {
              daemons.push(Number(match[1]))
              hostile.pids.add(Number(match[1]))
            }
          },
        }),
      )
      expect(ending.timedOut).toBe(true)
      expect(ending.seconds).toBeLessThan(15)
      expect(daemons).toHaveLength(1)
      expect(yield* Effect.promise(() => waitUntilDead(daemons[0]!))).toBe(true)
    }))

  it.live("kills what the experiment left running when its main process ends, whether it holds the output or not", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const pidFile = (name: string) => {
        hostile.pidFiles.add(path.join(dir, name))
        return path.join(dir, name)
      }
      const ending = yield* executor.run(
        spec({
          command: [
            // keeps stdout open, ignores SIGTERM
            `( setsid sh -c 'echo $$ > ${pidFile("holding")}; trap "" TERM; exec sleep 600' & )`,
            // closed its output: it would outlive the run unnoticed
            `( setsid sh -c 'echo $$ > ${pidFile("closed")}; exec sleep 600' >/dev/null 2>&1 & )`,
            // dropped twoloop's marker from its environment but holds stdout
            `( setsid env -i sh -c 'echo $$ > ${pidFile("unmarked")}; exec sleep 600' & )`,
            `while [ ! -s ${pidFile("holding")} ] || [ ! -s ${pidFile("closed")} ] || [ ! -s ${pidFile("unmarked")} ]; do sleep 0.05; done`,
            "echo score: 1",
          ].join("\n"),
        }),
      )
      expect(ending.exitCode).toBe(0)
      expect(ending.timedOut).toBe(false)
      expect(ending.seconds).toBeLessThan(15)
      expect(ending.logTail).toContain("score: 1")
      expect(ending.strayProcesses).toBeGreaterThanOrEqual(2)
      for (const name of ["holding", "closed", "unmarked"]) {
        const pid = Number(fs.readFileSync(pidFile(name), "utf8"))
        expect(yield* Effect.promise(() => waitUntilDead(pid)), `the ${name} daemon`).toBe(true)
      }
    }))

  it.live("waits out a hard limit longer than Node's longest timer instead of firing at once", () =>
    Effect.gen(function* () {
      const ending = yield* executor.run(spec({ command: "sleep 1; echo score: 1", hardLimitSeconds: 1e7 * 2 + 30 }))
      expect(ending.timedOut).toBe(false)
      expect(ending.exitCode).toBe(0)
      expect(ending.seconds).toBeGreaterThanOrEqual(1)
    }))

  it.live("interrupting the fiber kills the whole tree", () =>
    Effect.gen(function* () {
      const pids: Array<number> = []
      const fiber = yield* Effect.forkChild(
        executor.run(
          spec({
            command: `node ${fixtures}/fork-sleeper.mjs`,
            onStdoutLine: (line) => {
              const match = /^(parent|child) (\d+)$/.exec(line)
              if (match) pids.push(Number(match[2]))
            },
          }),
        ),
      )
      while (pids.length < 2) yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      for (const pid of pids) expect(isAlive(pid)).toBe(false)
    }))

  it.live("gives the experiment a scrubbed environment with its own variables", () =>
    Effect.gen(function* () {
      process.env.OPENAI_API_KEY = "sk-planted-openai-key-123456"
      process.env.TWOLOOP_API_KEY = "tl-planted-key-123456"
      process.env.SOME_SERVICE_TOKEN = "planted-token-abcdef"
      let envLine = ""
      try {
        yield* executor.run(
          spec({
            command: `node ${fixtures}/dump-env.mjs`,
            env: { TWOLOOP_TIME_BUDGET: "12", TWOLOOP_SEED: "7", MY_SECRET: "nope-nope-nope" },
            slot: { index: 1, gpu: 3 },
            runId: "run-7f37",
            experimentId: 42,
            onStdoutLine: (line) => {
              if (line.startsWith("ENV ")) envLine = line.slice(4)
            },
          }),
        )
      } finally {
        delete process.env.OPENAI_API_KEY
        delete process.env.TWOLOOP_API_KEY
        delete process.env.SOME_SERVICE_TOKEN
      }
      const env = JSON.parse(envLine) as Record<string, string>
      expect(env.OPENAI_API_KEY).toBeUndefined()
      expect(env.TWOLOOP_API_KEY).toBeUndefined()
      expect(env.SOME_SERVICE_TOKEN).toBeUndefined()
      expect(env.MY_SECRET).toBeUndefined()
      expect(env).toMatchObject({ TWOLOOP_TIME_BUDGET: "12", TWOLOOP_SEED: "7", CUDA_VISIBLE_DEVICES: "3", TWOLOOP_RUN_ID: "run-7f37", TWOLOOP_EXPERIMENT_ID: "42" })
      expect(env.PATH).toBeDefined()
    }))

  it.live("keeps a bounded log and flat memory for 200 MB of output, and still sees the last line", () =>
    Effect.gen(function* () {
      /** Runs the writer and samples this process's heap + buffers while it runs; returns the peak growth. */
      const measured = (megabytes: number) =>
        Effect.gen(function* () {
          const lines: Array<string> = []
          const before = retained()
          let peak = before
          const sampler = setInterval(() => {
            const usage = process.memoryUsage()
            peak = Math.max(peak, usage.heapUsed + usage.arrayBuffers)
          }, 20)
          const run = spec({ command: `node ${fixtures}/big-output.mjs ${megabytes}`, onStdoutLine: (line) => line.startsWith("val_loss") && lines.push(line) })
          const ending = yield* executor.run(run).pipe(Effect.ensuring(Effect.sync(() => clearInterval(sampler))))
          return { run, ending, lines, growth: peak - before }
        })
      const small = yield* measured(20)
      const { run, ending, lines, growth } = yield* measured(200)
      expect(ending.exitCode).toBe(0)
      expect(ending.outputBytes).toBeGreaterThan(200 * 1024 * 1024)
      expect(lines).toEqual(["val_loss: 0.25"])
      const size = fs.statSync(run.logPath).size
      expect(size).toBeLessThan(600 * 1024)
      const log = fs.readFileSync(run.logPath, "utf8")
      expect(log).toMatch(/\[twoloop: \d+ bytes of output omitted\]/)
      expect(log.slice(-4096)).toContain("val_loss: 0.25")
      expect(ending.logTail).toContain("val_loss: 0.25")
      // Ten times the output may not cost more memory than garbage between samples (holding it would cost 180 MB).
      expect(growth - small.growth, `peak growth ${(growth / 2 ** 20).toFixed(1)} MB for 200 MB vs ${(small.growth / 2 ** 20).toFixed(1)} MB for 20 MB`).toBeLessThan(48 * 1024 * 1024)
    }))

  it.live("records peak memory of the process tree", () =>
    Effect.gen(function* () {
      // The hog holds its memory until released; the release comes a second after it said so, which is
      // after the executor's next sample (every 500 ms: a timer due sooner fires first, however late).
      const release = path.join(tempDir(), "release")
      const ending = yield* executor.run(
        spec({
          command: `node ${fixtures}/memory-hog.mjs ${release}`,
          hardLimitSeconds: 300,
          onStdoutLine: (line) => {
            if (line.startsWith("held ")) setTimeout(() => fs.writeFileSync(release, ""), 1000)
          },
        }),
      )
      expect(ending.exitCode).toBe(0)
      expect(ending.logTail).toContain("released 150")
      expect(ending.peakMemoryMb).toBeGreaterThan(120)
    }))

  it.live("reports exit codes and a command that does not exist", () =>
    Effect.gen(function* () {
      const crash = yield* executor.run(spec({ command: "exit 3" }))
      expect(crash.exitCode).toBe(3)
      expect(crash.timedOut).toBe(false)
      const missing = yield* executor.run(spec({ command: "definitely-not-a-command-xyz" }))
      expect(missing.exitCode).toBe(127)
      expect(missing.logTail).toContain("not found")
      const badCwd = yield* executor.run({ ...spec({ command: "true" }), cwd: "/nonexistent/dir" })
      expect(badCwd.failure).not.toBeNull()
    }))

  it.live("finds and kills an orphan by the run and experiment ids in its environment, never another run's", () =>
    Effect.gen(function* () {
      const { spawn } = yield* Effect.promise(() => import("node:child_process"))
      const orphan = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
        detached: true,
        stdio: "ignore",
        env: { ...process.env, TWOLOOP_RUN_ID: "orphan-run", TWOLOOP_EXPERIMENT_ID: "987654" },
      })
      orphan.unref()
      // (spawn returns once the child has exec'd: its environment is already readable)
      const experiment = { runId: "orphan-run", id: 987654, pid: orphan.pid!, host: null, jobId: null }
      // another experiment of the run, and the same experiment number in another run (another store, say)
      for (const other of [{ ...experiment, id: 123456 }, { ...experiment, runId: "another-run" }]) {
        expect(yield* executor.cleanupOrphan(other)).toBeNull()
        expect(isAlive(orphan.pid!)).toBe(true)
      }
      const message = yield* executor.cleanupOrphan(experiment)
      expect(message).toContain("experiment #987654")
      expect(yield* Effect.promise(() => waitUntilDead(orphan.pid!))).toBe(true)
    }))
})
