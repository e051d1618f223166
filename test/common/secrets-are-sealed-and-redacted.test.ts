/**
 * Secrets in twoloop's own process: `sealSecrets` takes them out of `process.env` and out of the start-up
 * environment block that `/proc/<pid>/environ` shows to any process of the same user (an experiment reading
 * its parent's environment), while `fullEnvironment` still hands them to the code that needs them; and
 * redaction finds a secret value however a byte stream is cut.
 */
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { StreamRedactor } from "../../src/common/secrets.ts"

const distSecrets = path.resolve(import.meta.dirname, "../../dist/src/common/secrets.js")
const planted = "sk-planted-seal-0123456789abcdef"

describe("sealing secrets", () => {
  it("wipes them from the environment a child reads through /proc/$PPID/environ, and keeps them for twoloop", async () => {
    const script = `
      import { execFileSync } from "node:child_process"
      import * as fs from "node:fs"
      const { sealSecrets, fullEnvironment } = await import(${JSON.stringify(distSecrets)})
      const before = fs.readFileSync("/proc/self/environ", "latin1").includes(process.env.PLANTED_API_KEY)
      const sealed = sealSecrets()
      const child = execFileSync("sh", ["-c", "cat /proc/$PPID/environ"], { env: { PATH: process.env.PATH } }).toString("latin1")
      console.log(JSON.stringify({ before, sealed, inProcessEnv: process.env.PLANTED_API_KEY ?? null, forTwoloop: fullEnvironment().PLANTED_API_KEY, childSaw: child.includes(${JSON.stringify(planted)}), keptOthers: child.includes("PLAIN_SETTING=visible") }))
      setInterval(() => {}, 1000)
    `
    const child = execa(process.execPath, ["--input-type=module", "-e", script], { env: { PATH: process.env.PATH ?? "", PLANTED_API_KEY: planted, PLAIN_SETTING: "visible" }, extendEnv: false })
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout!.once("data", (chunk: Buffer) => resolve(String(chunk)))
        child.once("exit", (code) => reject(new Error(`child exited ${code}: ${child.stderr}`)))
      })
      const seen = JSON.parse(line) as Record<string, unknown>
      expect(seen).toEqual({ before: true, sealed: { sealed: ["PLANTED_API_KEY"], wiped: true }, inProcessEnv: null, forTwoloop: planted, childSaw: false, keptOthers: true })
      // And from outside: another process of the same user reading the sealed process's environment.
      expect(fs.readFileSync(`/proc/${child.pid}/environ`, "latin1")).not.toContain(planted)
      expect(fs.readFileSync(`/proc/${child.pid}/environ`, "latin1")).toContain("PLANTED_API_KEY=")
    } finally {
      child.kill("SIGKILL")
      await child.catch(() => undefined)
    }
  })
})

describe("stream redaction", () => {
  it("finds a secret split across chunks at any position", () => {
    const secrets = ["sk-live-abcdef123456", "hf_token_98765432"]
    const text = `start ${secrets[0]} middle ${secrets[1]}${secrets[0]} end\n`
    const bytes = Buffer.from(text)
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let second = cut; second <= bytes.length; second += 3) {
        const redactor = new StreamRedactor(secrets)
        const out = Buffer.concat([redactor.push(bytes.subarray(0, cut)), redactor.push(bytes.subarray(cut, second)), redactor.push(bytes.subarray(second)), redactor.end()]).toString()
        expect(out).toBe("start [redacted] middle [redacted][redacted] end\n")
      }
    }
  })

  it("holds back only a tail that could start a secret: a line printed before the process waits goes on at once", () => {
    const redactor = new StreamRedactor(["sk-alpha-0123456789", "token-beta-987"])
    expect(redactor.push(Buffer.from("held 150\n")).toString()).toBe("held 150\n")
    expect(redactor.push(Buffer.from("key sk-al")).toString()).toBe("key ")
    expect(redactor.push(Buffer.from("pine\n")).toString()).toBe("sk-alpine\n")
    expect(redactor.push(Buffer.from("a sk-alpha-01")).toString()).toBe("a ")
    expect(redactor.push(Buffer.from("23456789!\n")).toString()).toBe("[redacted]!\n")
    expect(redactor.end().length).toBe(0)
  })

  it("passes output through untouched when there is no secret to look for", () => {
    const redactor = new StreamRedactor([])
    const chunk = Buffer.from("loss: 1.5\n")
    expect(redactor.push(chunk)).toBe(chunk)
    expect(redactor.end().length).toBe(0)
  })
})
