import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { tempDir } from "../support/tmp.ts"

const project = (config: string) => {
  const dir = tempDir("twoloop-config-")
  fs.cpSync(fixtureDir("quadratic-target"), path.join(dir, "target"), { recursive: true })
  fs.writeFileSync(path.join(dir, "pipeline.config.ts"), config)
  return dir
}

const valid = (overrides: { top?: string; target?: string; stages?: string } = {}) => `import { defineConfig } from "twoloop/config"

export default defineConfig({
  name: "errors",
  ${overrides.top ?? ""}
  target: {
    dir: ${overrides.target ?? '"target"'},
    editable: ["train.mjs"],
    readonly: ["prepare.mjs"],
    command: "node train.mjs",
    metric: { name: "loss", direction: "minimize" },
    timeBudgetSeconds: 5,
  },
  stages: ${overrides.stages ?? '[{ kind: "code-search", name: "inner", budget: { experiments: 4 } }]'},
})
`

const expectOneLineError = async (dir: string, pattern: RegExp) => {
  const result = await twoloop(["run"], { cwd: dir })
  expect(result.exitCode).toBe(1)
  const stderr = String(result.stderr).trim()
  expect(stderr.split("\n")).toHaveLength(1)
  expect(stderr).toMatch(pattern)
  expect(stderr).toContain(path.join(dir, "pipeline.config.ts"))
  expect(fs.existsSync(path.join(dir, ".twoloop"))).toBe(false)
}

describe.concurrent("config errors", () => {
  it("names a misspelt key and suggests the right one", () => expectOneLineError(project(valid({ top: 'sotre: "x.db",' })), /sotre: unknown key \(did you mean "store"\?\)/))

  it("names the key path and the wrong value", () =>
    expectOneLineError(project(valid({ stages: '[{ kind: "code-search", budget: { experiments: "ten" } }]' })), /stages\[0\]\.budget\.experiments: expected a positive integer, got "ten"/))

  it("rejects unknown stage options", () => expectOneLineError(project(valid({ stages: '[{ kind: "code-search", wrokers: 2 }]' })), /stages\[0\]\.wrokers: unknown key \(did you mean "workers"\?\)/))

  it("names an unknown stage kind", () => expectOneLineError(project(valid({ stages: '[{ kind: "code-serch" }]' })), /stages\[0\]\.kind: unknown stage kind "code-serch" \(did you mean "code-search"\?\)/))

  it("reports a missing target directory", () => expectOneLineError(project(valid({ target: '"nowhere"' })), /target\.dir: directory .*nowhere does not exist/))

  it("reports a bad model string", () => expectOneLineError(project(valid({ top: 'model: "gpt-4",' })), /model: expected "offline", "openai:<model>"/))

  it("reports a config file that does not load", () => {
    const dir = project("export default {")
    return expectOneLineError(dir, /cannot load the config/)
  })

  it("reports a missing config file", async () => {
    const dir = tempDir()
    const result = await twoloop(["run"], { cwd: dir })
    expect(result.exitCode).toBe(1)
    expect(String(result.stderr).trim()).toMatch(/^twoloop: no pipeline config in /)
  })
})
