import { describe, expect, it } from "vitest"
import type { LibraryEntry } from "../../src/domain/LibraryEntry.ts"
import { entryId, parseEntryMarkdown, renderEntryMarkdown } from "../../src/pipeline/library.ts"

const components = [
  ["instructions", "You are a research engineer.\n\n## Rules\n- one idea at a time\n```py\nLR = 1\n```\n---\nnot front matter"],
  ["directions", "1. LEARNING_RATE up\n2. OPTIMIZER adam\n"],
] as const

const entry: LibraryEntry = {
  id: entryId(components),
  project: "tiny-lm",
  target: "/p/examples/tiny-lm",
  metric: "val_bpb",
  direction: "minimize",
  gain: 0.0412,
  runId: "20261122-000000-abcd",
  lineage: ["0", "2", "5"],
  model: "offline",
  offline: true,
  components,
  source: "run x",
  createdAt: "2026-11-22T00:00:00.000Z",
}

describe("prompt library markdown", () => {
  it("round-trips an entry exactly, including markdown inside components", () => {
    const text = renderEntryMarkdown(entry)
    expect(text.startsWith("---\n")).toBe(true)
    expect(text).toContain("Evolved by the offline reflector")
    const parsed = parseEntryMarkdown(text, "x.md")
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    expect(parsed.entry.components).toEqual(components)
    expect(parsed.entry).toMatchObject({ id: entry.id, project: "tiny-lm", metric: "val_bpb", gain: 0.0412, offline: true, lineage: ["0", "2", "5"] })
  })

  it("gives an edited prompt a new id", () => {
    const edited = renderEntryMarkdown(entry).replace("one idea at a time", "two ideas at a time")
    const parsed = parseEntryMarkdown(edited, "x.md")
    expect(parsed.ok && parsed.entry.id).not.toBe(entry.id)
  })

  it("names what is wrong with a broken file", () => {
    expect(parseEntryMarkdown("no front matter", "a.md")).toEqual({ ok: false, message: "a.md: no front matter (the file must start with a --- block)" })
    const missing = renderEntryMarkdown(entry).replace("<!-- twoloop:component directions -->", "")
    expect(parseEntryMarkdown(missing, "b.md")).toMatchObject({ ok: false, message: expect.stringContaining("component directions") })
  })
})
