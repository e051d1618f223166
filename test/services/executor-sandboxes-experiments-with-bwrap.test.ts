/**
 * `executor.sandbox: "bwrap"`: the experiment runs under bubblewrap with the filesystem read-only except its
 * workspace (and a private /tmp), and without network. Debian's bubblewrap; CI installs it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
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

  it.live("without the sandbox the same probe can do all of it (the test can tell the difference)", () =>
    Effect.gen(function* () {
      const { lines, outside } = yield* run("none")
      expect(lines.slice(0, 2)).toEqual(["write workspace: allowed", "write outside: allowed"])
      expect(lines).toContain("network: allowed 200")
      expect(fs.existsSync(path.join(outside, "escaped.txt"))).toBe(true)
    }))
})
