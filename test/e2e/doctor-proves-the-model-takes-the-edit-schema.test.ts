/**
 * `twoloop doctor` makes one tiny structured call with the real Edit schema through the configured provider,
 * so a schema or provider incompatibility shows before a night's run. Run through the real CLI against the
 * local OpenAI server (Responses API, strict rules, key checked).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { probeCheck, probeOutputTokens } from "../../src/cli/commands/doctor.ts"
import { LlmError } from "../../src/domain/errors.ts"
import { twoloop } from "../support/cli.ts"
import { type OpenAiServer, startOpenAiServer, structuredFormatOf } from "../support/openaiServer.ts"
import { strictSchemaViolations } from "../support/openaiStrictSchema.ts"
import { tempDir } from "../support/tmp.ts"

const key = "sk-proj-doctorKey0123456789abcdef"

const project = (raw: Record<string, unknown>) => {
  const root = tempDir("twoloop-doctor-project-")
  fs.mkdirSync(path.join(root, "target"))
  fs.writeFileSync(path.join(root, "target/train.py"), "print('val_bpb: 1.0')\n")
  fs.writeFileSync(
    path.join(root, "pipeline.config.json"),
    JSON.stringify({ target: { dir: "target", editable: ["train.py"], command: "python3 train.py", metric: { name: "val_bpb", direction: "minimize" }, timeBudgetSeconds: 5 }, stages: [{ kind: "code-search", name: "inner" }], ...raw }),
  )
  return root
}

const modelLines = (output: string) => output.split("\n").filter((line) => /^[✓!✗] model /.test(line))

describe("twoloop doctor", () => {
  let server: OpenAiServer
  beforeAll(async () => {
    server = await startOpenAiServer({ apiKey: key })
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  const doctor = (root: string, env: Record<string, string> = { OPENAI_API_KEY: key, OPENAI_BASE_URL: server.baseURL }) =>
    twoloop(["doctor", "--config", "pipeline.config.json"], { cwd: root, env: { TWOLOOP_PYTHON: "python3", ...env } })

  it("passes when the provider accepts the edit schema, even though the reply is cut at the token cap; the user's store stays untouched", async () => {
    server.setFallback({ kind: "text", content: JSON.stringify({ direction: "none", rationale: "check", description: "check", changes: [{ path: "train.py", kind: "replace", search: "x", replace: "x" }] }) })
    const root = project({ model: "openai:gpt-4.1-mini" })
    const tmp = tempDir("twoloop-doctor-tmp-")
    const result = await doctor(root, { OPENAI_API_KEY: key, OPENAI_BASE_URL: server.baseURL, TMPDIR: tmp })
    expect(result.exitCode, String(result.all)).toBe(0)
    expect(modelLines(String(result.stdout))).toEqual([`✓ model openai:gpt-4.1-mini ${server.baseURL} (Responses API) accepted a structured call with the edit schema (reply capped at 16 tokens)`])
    expect(server.requests).toHaveLength(1)
    const [request] = server.requests
    expect(request!.path).toBe("/v1/responses")
    expect(request!.headers.authorization).toBe(`Bearer ${key}`)
    expect(request!.body.max_output_tokens).toBe(16)
    const format = structuredFormatOf(request!)!
    expect(format).toMatchObject({ name: "edit", strict: true })
    expect(strictSchemaViolations(format.schema)).toEqual([])
    expect(JSON.stringify(format.schema)).toContain('"changes"')
    // The ledger of the probe lived in a throwaway store, removed afterwards; the config's store was never created.
    expect(fs.existsSync(path.join(root, ".twoloop"))).toBe(false)
    expect(fs.readdirSync(tmp)).toEqual([])
  })

  it("fails with one clear line (exit 1) when the server refuses the schema", async () => {
    server.setFallback({
      kind: "status",
      status: 400,
      body: JSON.stringify({
        error: { message: "Invalid schema for response_format 'edit': In context=('properties', 'changes', 'items'), 'anyOf' is not permitted.", type: "invalid_request_error", param: "text.format.schema", code: "invalid_json_schema" },
      }),
    })
    const root = project({ model: "openai:gpt-4.1-mini" })
    const result = await doctor(root)
    expect(result.exitCode).toBe(1)
    expect(modelLines(String(result.stdout))).toEqual([
      `✗ model openai:gpt-4.1-mini ${server.baseURL} (Responses API) refused a structured call with the edit schema: HTTP 400: Invalid schema for response_format 'edit': In context=('properties', 'changes', 'items'), 'anyOf' is not permitted.`,
    ])
    expect(String(result.stderr).trim()).toBe("twoloop: doctor: 1 check failed (model openai:gpt-4.1-mini)")
    expect(server.requests).toHaveLength(1)
    expect(String(result.all)).not.toContain(key)
  })

  it("checks a chat-completions server the same way, and a separate reflection model with a text call", async () => {
    server.setFallback({ kind: "text", content: "ok" })
    const root = project({ model: `openai-compatible:local@${server.baseURL}`, reflectionModel: "openai:gpt-4.1-mini" })
    const result = await doctor(root, { OPENAI_API_KEY: key, OPENAI_BASE_URL: server.baseURL, TWOLOOP_API_KEY: key })
    expect(result.exitCode, String(result.all)).toBe(0)
    expect(modelLines(String(result.stdout))).toEqual([
      `✓ model openai-compatible:local@${server.baseURL} the server (chat completions) accepted a structured call with the edit schema (reply capped at 16 tokens)`,
      `✓ model openai:gpt-4.1-mini ${server.baseURL} (Responses API) answered a text call`,
    ])
    expect(server.requests.map((r) => [r.path, structuredFormatOf(r)?.strict ?? null])).toEqual([
      ["/v1/chat/completions", true],
      ["/v1/responses", null],
    ])
  })

})

describe("what a doctor probe's outcome says", () => {
  const where = "https://api.openai.com/v1 (Responses API)"
  const failure = (reason: LlmError["reason"], message: string) => ({ ok: false as const, error: new LlmError({ message, model: "openai:m", reason, retryable: false }) })

  it("a reply cut short or not decodable still proves the schema was accepted", () => {
    expect(probeCheck("openai:m", where, "structured", failure("malformed", "openai:m returned output that does not match the expected schema"))).toEqual({
      level: "ok",
      name: "model openai:m",
      detail: `${where} accepted a structured call with the edit schema (reply capped at ${probeOutputTokens} tokens)`,
    })
    expect(probeCheck("openai:m", where, "text", failure("empty", "openai:m returned an empty reply")).level).toBe("ok")
  })

  it("a refusal, an unreachable server or no reply fails, in one line", () => {
    expect(probeCheck("openai:m", where, "structured", failure("http", "openai:m: HTTP 401: Incorrect API key provided: sk-***6789.\nSee the docs")).detail).toBe(
      `${where} refused a structured call with the edit schema: HTTP 401: Incorrect API key provided: sk-***6789. See the docs`,
    )
    expect(probeCheck("openai:m", where, "text", failure("network", "openai:m: request failed: Cannot connect to API: connect ECONNREFUSED (ECONNREFUSED)"))).toMatchObject({
      level: "fail",
      detail: `${where} is unreachable: Cannot connect to API: connect ECONNREFUSED (ECONNREFUSED)`,
    })
    expect(probeCheck("openai:m", where, "text", failure("timeout", "openai:m: no reply within 60 s"))).toMatchObject({ level: "fail", detail: `${where}: no reply within 60 s` })
  })
})
