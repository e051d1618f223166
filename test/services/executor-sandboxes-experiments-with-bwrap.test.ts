/**
 * `executor.sandbox: "bwrap"`: the experiment runs under bubblewrap with the filesystem read-only except its
 * workspace (and a private /tmp), its readonly files read-only even there, without network, and in its own
 * PID namespace (it sees no other process, so no other process's environment). Debian's bubblewrap; CI
 * installs it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { execa } from "execa"
import { afterAll, beforeAll } from "vitest"
import { makeLocalExecutor, type RunSpec } from "../../src/services/Executor.ts"
import { tempDir } from "../support/tmp.ts"

const hasBwrap = (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, "bwrap")))
const ci = process.env.CI === "true"
if (!hasBwrap && !ci) console.warn("skipping the bubblewrap sandbox tests: bwrap not found (apt-get install bubblewrap)")

const probe = `
const fs = require("node:fs")
const http = require("node:http")
const attempt = (what, f) => { try { f(); console.log(what + ": allowed") } catch (e) { console.log(what + ": refused " + e.code) } }
attempt("write workspace", () => fs.writeFileSync("out.txt", "ok"))
attempt("write outside", () => fs.writeFileSync(process.env.OUTSIDE + "/escaped.txt", "escaped"))
attempt("write home", () => fs.writeFileSync((process.env.HOME || "/root") + "/.twoloop-escape", "escaped"))
http.get(process.env.URL, (res) => { console.log("network: allowed " + res.statusCode); res.resume(); console.log("score: 1") })
  .on("error", (e) => { console.log("network: refused " + e.code); console.log("score: 1") })
`

describe.skipIf(!hasBwrap && !ci)("the bubblewrap sandbox", () => {
  let server: http.Server
  let url = ""
  beforeAll(async () => {
    server = http.createServer((_, res) => res.end("reachable"))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  const cleanup: Array<string> = []
  afterAll(async () => {
    for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(path.join(os.homedir(), ".twoloop-escape"), { force: true })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const run = (sandbox: "none" | "bwrap") =>
    Effect.gen(function* () {
      expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
      const cwd = tempDir("twoloop-sandbox-")
      // Outside the workspace and outside /tmp (the sandbox gets a private /tmp).
      const outside = fs.mkdtempSync(path.join(os.homedir(), ".twoloop-sandbox-test-"))
      cleanup.push(outside)
      fs.writeFileSync(path.join(cwd, "probe.cjs"), probe)
      const lines: Array<string> = []
      const spec: RunSpec = {
        runId: "sandbox-test",
        experimentId: 1,
        cwd,
        command: "node probe.cjs",
        env: { OUTSIDE: outside, URL: url },
        slot: { index: 0, gpu: null },
        hardLimitSeconds: 30,
        logPath: path.join(tempDir(), "run.log"),
        onStdoutLine: (line) => lines.push(line),
      }
      const ending = yield* makeLocalExecutor({ sandbox, gpus: "none" }).run(spec)
      return { ending, lines, cwd, outside }
    })

  it.live("lets the experiment write only its workspace and reach no network", () =>
    Effect.gen(function* () {
      const { ending, lines, cwd, outside } = yield* run("bwrap")
      expect(ending.exitCode, ending.logTail).toBe(0)
      expect(lines).toEqual(["write workspace: allowed", "write outside: refused EROFS", "write home: refused EROFS", expect.stringMatching(/^network: refused (ECONNREFUSED|ENETUNREACH)$/), "score: 1"])
      expect(fs.readFileSync(path.join(cwd, "out.txt"), "utf8")).toBe("ok")
      expect(fs.existsSync(path.join(outside, "escaped.txt"))).toBe(false)
    }))

  const snoop = `
const fs = require("node:fs")
const pids = fs.readdirSync("/proc").filter((name) => /^\\d+$/.test(name))
const wanted = process.env.LOOK_FOR_REVERSED.split("").reverse().join("")
const found = pids.some((pid) => { try { return fs.readFileSync("/proc/" + pid + "/environ", "latin1").includes(wanted) } catch { return false } })
console.log("processes: " + pids.length)
console.log("found: " + found)
`
  const snoopWith = (sandbox: "none" | "bwrap") =>
    Effect.gen(function* () {
      expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
      // Another process of the same user started with a key in its environment (a shell, \`npm start\`...).
      const planted = "sk-planted-in-a-neighbour-0123456789"
      const neighbour = execa("sleep", ["60"], { env: { PATH: process.env.PATH ?? "", NEIGHBOUR_API_KEY: planted }, extendEnv: false, reject: false })
      const cwd = tempDir("twoloop-sandbox-")
      fs.writeFileSync(path.join(cwd, "snoop.cjs"), snoop)
      const lines: Array<string> = []
      const ending = yield* makeLocalExecutor({ sandbox, gpus: "none" })
        .run({ experimentId: 1, cwd, command: "node snoop.cjs", env: { LOOK_FOR_REVERSED: [...planted].reverse().join("") }, slot: { index: 0, gpu: null }, hardLimitSeconds: 30, logPath: path.join(tempDir(), "run.log"), onStdoutLine: (line) => lines.push(line) })
        .pipe(Effect.ensuring(Effect.sync(() => neighbour.kill("SIGKILL"))))
      yield* Effect.promise(() => neighbour)
      return { ending, processes: Number(lines[0]?.split(" ")[1]), found: lines[1] }
    })

  it.live("sees no process outside the sandbox, so no other process's environment", () =>
    Effect.gen(function* () {
      const { ending, processes, found } = yield* snoopWith("bwrap")
      expect(ending.exitCode, ending.logTail).toBe(0)
      expect(found).toBe("found: false")
      expect(processes).toBeLessThanOrEqual(3)
      // Without the sandbox the same probe finds the neighbour's key (the test can tell the difference).
      expect((yield* snoopWith("none")).found).toBe("found: true")
    }))

  it.live("keeps readonly files and the worktree's .git read-only inside the writable workspace", () =>
    Effect.gen(function* () {
      expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
      const cwd = tempDir("twoloop-sandbox-")
      fs.writeFileSync(path.join(cwd, "prepare.mjs"), "export const evaluate = () => 1\n")
      fs.writeFileSync(path.join(cwd, ".git"), "gitdir: /somewhere/else\n")
      fs.writeFileSync(
        path.join(cwd, "probe.cjs"),
        `const fs = require("node:fs")
const attempt = (what, f) => { try { f(); console.log(what + ": allowed") } catch (e) { console.log(what + ": refused") } }
attempt("rewrite readonly", () => fs.writeFileSync("prepare.mjs", "export const evaluate = () => 0\\n"))
attempt("replace readonly", () => { fs.writeFileSync("fake.mjs", "x"); fs.renameSync("fake.mjs", "prepare.mjs") })
attempt("rewrite .git", () => fs.writeFileSync(".git", "gitdir: /tmp/evil\\n"))
attempt("write editable", () => fs.writeFileSync("train.mjs", "ok"))
`,
      )
      const lines: Array<string> = []
      const ending = yield* makeLocalExecutor({ sandbox: "bwrap", gpus: "none" }).run({
        experimentId: 1,
        cwd,
        command: "node probe.cjs",
        env: {},
        slot: { index: 0, gpu: null },
        hardLimitSeconds: 30,
        readonlyPaths: [path.join(cwd, "prepare.mjs"), path.join(cwd, ".git")],
        logPath: path.join(tempDir(), "run.log"),
        onStdoutLine: (line) => lines.push(line),
      })
      expect(ending.exitCode, ending.logTail).toBe(0)
      expect(lines).toEqual(["rewrite readonly: refused", "replace readonly: refused", "rewrite .git: refused", "write editable: allowed"])
      expect(fs.readFileSync(path.join(cwd, "prepare.mjs"), "utf8")).toBe("export const evaluate = () => 1\n")
      expect(fs.readFileSync(path.join(cwd, ".git"), "utf8")).toBe("gitdir: /somewhere/else\n")
    }))

  it.live("hides the usual credential files of the home directory", () =>
    Effect.gen(function* () {
      expect(hasBwrap, "CI must install bubblewrap (see .ci/run)").toBe(true)
      // A home outside /tmp (the sandbox's /tmp is private), with credentials in the usual places.
      const home = fs.mkdtempSync(path.join(os.homedir(), ".twoloop-fake-home-"))
      cleanup.push(home)
      fs.mkdirSync(path.join(home, ".aws"))
      fs.writeFileSync(path.join(home, ".aws", "credentials"), "aws_secret_access_key = planted-aws-secret\n")
      fs.writeFileSync(path.join(home, ".netrc"), "machine example.com password planted-netrc-password\n")
      const cwd = tempDir("twoloop-sandbox-")
      fs.writeFileSync(
        path.join(cwd, "probe.cjs"),
        `const fs = require("node:fs")
for (const file of [".aws/credentials", ".netrc"]) { try { console.log(file + ": " + JSON.stringify(fs.readFileSync(process.env.FAKE_HOME + "/" + file, "utf8"))) } catch (e) { console.log(file + ": " + e.code) } }
`,
      )
      const previous = process.env.HOME
      process.env.HOME = home
      const lines: Array<string> = []
      const ending = yield* makeLocalExecutor({ sandbox: "bwrap", gpus: "none" })
        .run({ experimentId: 1, cwd, command: "node probe.cjs", env: { FAKE_HOME: home }, slot: { index: 0, gpu: null }, hardLimitSeconds: 30, logPath: path.join(tempDir(), "run.log"), onStdoutLine: (line) => lines.push(line) })
        .pipe(Effect.ensuring(Effect.sync(() => (process.env.HOME = previous))))
      expect(ending.exitCode, ending.logTail).toBe(0)
      // The directory is empty; the file is a read-only null device that cannot even be opened.
      expect(lines).toEqual([".aws/credentials: ENOENT", ".netrc: EACCES"])
    }))

  it.live("without the sandbox the same probe can do all of it (the test can tell the difference)", () =>
    Effect.gen(function* () {
      const { lines, outside } = yield* run("none")
      expect(lines.slice(0, 2)).toEqual(["write workspace: allowed", "write outside: allowed"])
      expect(lines).toContain("network: allowed 200")
      expect(fs.existsSync(path.join(outside, "escaped.txt"))).toBe(true)
    }))
})
