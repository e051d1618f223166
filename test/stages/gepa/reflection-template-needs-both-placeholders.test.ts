import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { hashTemplate, loadTemplateSync } from "../../../src/services/Prompts.ts"
import { Store } from "../../../src/services/Store.ts"
import { buildReflectionPrompt, makeMemoryStatePort, optimize, templateProblem } from "../../../stages/gepa/index.ts"
import { scriptedModel } from "../../support/mockModel.ts"
import { tempDir } from "../../support/tmp.ts"
import { appendMissingWord, engineLayer, examples, keywordAdapter, reflectionModel } from "./support.ts"

const bundled = loadTemplateSync("gepa-reflection")
const seedCandidate = [
  ["first", "x"],
  ["second", "y"],
] as const
const trainset = [...examples("tf", ["a0", "a1"], "first"), ...examples("ts", ["b0", "b1"], "second")]

describe("reflection templates", () => {
  it("ships the meta-prompt with exactly the two placeholders, each in its own fence", () => {
    if ("error" in bundled) throw new Error(bundled.error)
    expect(bundled.text.match(/\{\{\s*\w+\s*\}\}/g)).toEqual(["{{current_instruction}}", "{{examples}}"])
    expect(bundled.text).toContain("```\n{{current_instruction}}\n```")
    expect(bundled.text).toContain("```\n{{examples}}\n```")
    expect(templateProblem(bundled.text)).toBeUndefined()
  })

  it("names the missing placeholders", () => {
    expect(templateProblem("Improve: {{current_instruction}}")).toBe("is missing the placeholder {{examples}}")
    expect(templateProblem("Improve it.")).toBe("is missing the placeholders {{current_instruction}} and {{examples}}")
    expect(templateProblem("{{ current_instruction }} / {{examples}}")).toBeUndefined()
  })

  it("renders the current text and the records into the template", () => {
    const prompt = buildReflectionPrompt("Now: {{current_instruction}}\nSeen:\n{{examples}}", "Add numbers.", [{ Inputs: "1+1", Feedback: "right" }])
    expect(prompt).toBe("Now: Add numbers.\nSeen:\n# Example 1\n## Inputs\n1+1\n\n## Feedback\nright\n\n")
  })

  it.effect("uses a per-component template for that component and records each template's hash", () => {
    const dir = tempDir()
    const custom = "SECOND TEMPLATE\n```\n{{current_instruction}}\n```\n```\n{{examples}}\n```\n"
    fs.writeFileSync(path.join(dir, "second.md"), custom)
    const model = scriptedModel([appendMissingWord])
    return Effect.gen(function* () {
      const port = makeMemoryStatePort()
      yield* optimize({
        adapter: keywordAdapter().adapter,
        seedCandidate,
        trainset,
        valset: trainset,
        state: port,
        reflectionModel,
        reflectionTemplate: { second: "second.md" },
        templateBaseDir: dir,
        componentSelector: "all",
        minibatchSize: 4,
        budget: { iterations: 1 },
      })
      const prompts = model.doGenerateCalls.map((call) => JSON.stringify(call.prompt))
      expect(prompts).toHaveLength(2)
      expect(prompts[0]).not.toContain("SECOND TEMPLATE")
      expect(prompts[1]).toContain("SECOND TEMPLATE")
      const proposal = port.proposals()[0]!
      expect(proposal.components).toEqual(["first", "second"])
      expect(proposal.reflectionPrompt).toMatch(/^--- first ---\n[\s\S]*\n\n--- second ---\nSECOND TEMPLATE/)
      const store = yield* Store
      const rows = yield* store.use((db) => db.prepare("SELECT purpose, template_hash FROM llm_calls ORDER BY id").all() as Array<{ purpose: string; template_hash: string }>)
      if ("error" in bundled) throw new Error(bundled.error)
      expect(rows).toEqual([
        { purpose: "gepa.reflection", template_hash: bundled.hash },
        { purpose: "gepa.reflection", template_hash: hashTemplate(custom) },
      ])
    }).pipe(Effect.provide(engineLayer(model)))
  })

  it.effect("refuses a template for a component the seed does not have, a missing file and a malformed model", () =>
    Effect.gen(function* () {
      const base = { adapter: keywordAdapter().adapter, seedCandidate, trainset, valset: trainset, reflectionModel, budget: { iterations: 1 } }
      const unknown = yield* Effect.flip(optimize({ ...base, reflectionTemplate: { third: "gepa-reflection" } }))
      expect(unknown.message).toBe("gepa: reflectionTemplate.third: not a component of the seed candidate (first, second)")
      const missing = yield* Effect.flip(optimize({ ...base, reflectionTemplate: "does-not-exist.md", templateBaseDir: tempDir() }))
      expect(missing._tag).toBe("ConfigError")
      expect(missing.message).toContain("does-not-exist.md")
      const badModel = yield* Effect.flip(optimize({ ...base, reflectionModel: "gpt-4.1" }))
      expect(badModel.message).toBe('gepa: the reflection model "gpt-4.1" is not "offline", "openai:<model>" or "openai-compatible:<model>@<base URL>"')
    }).pipe(Effect.provide(engineLayer(scriptedModel(["unused"])))))
})
