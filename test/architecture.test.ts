/**
 * Keeps the structure one-way: nothing in src/ imports stages/ (stage kinds are handed to the pipeline at
 * run time), inside src the arrows are cli → dashboard → pipeline → services → domain → common (the
 * dashboard is a leaf only the cli imports; common is pure helpers that import nothing else of src), stage
 * kinds never import each other (what they share is the experiment kit, which imports no stage kind), and
 * config.ts stays light.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..")

const sourceFiles = (dir: string): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(relative)
    return /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [relative] : []
  })

const importsOf = (file: string): Array<string> => {
  const text = fs.readFileSync(path.join(root, file), "utf8")
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"'`;]*?from\s*["']([^"']+)["']/g), ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g), ...text.matchAll(/(?:^|\n)\s*import\s*["']([^"']+)["']/g)]
  return specifiers.map((m) => m[1]!)
}

const resolveLocal = (file: string, specifier: string) => (specifier.startsWith(".") ? path.normalize(path.join(path.dirname(file), specifier)) : undefined)

const layerOf = (file: string) => file.split(path.sep)[1] ?? ""

describe("architecture", () => {
  const srcFiles = sourceFiles("src")

  it("finds the source files it checks", () => {
    expect(srcFiles.length).toBeGreaterThan(20)
  })

  it("src never imports stages", () => {
    const offenders = srcFiles.flatMap((file) => importsOf(file).filter((s) => resolveLocal(file, s)?.startsWith("stages")).map((s) => `${file} -> ${s}`))
    expect(offenders).toEqual([])
  })

  it("inside src the arrows point cli -> dashboard -> pipeline -> services -> domain -> common", () => {
    const rank: Record<string, number> = { cli: 5, dashboard: 4, pipeline: 3, services: 2, domain: 1, common: 0 }
    const offenders: Array<string> = []
    for (const file of srcFiles) {
      const from = rank[layerOf(file)]
      if (from === undefined) continue
      for (const specifier of importsOf(file)) {
        const target = resolveLocal(file, specifier)
        if (!target?.startsWith("src")) continue
        const to = rank[layerOf(target)]
        if (to !== undefined && to > from) offenders.push(`${file} -> ${specifier}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it("only the cli imports the dashboard", () => {
    const offenders = [...srcFiles, ...sourceFiles("stages"), ...sourceFiles("bin")].flatMap((file) =>
      layerOf(file) === "cli" || layerOf(file) === "dashboard" ? [] : importsOf(file).filter((s) => resolveLocal(file, s)?.startsWith(path.join("src", "dashboard"))).map((s) => `${file} -> ${s}`),
    )
    expect(offenders).toEqual([])
  })

  it("stage kinds do not import each other; the experiment kit imports no stage kind", () => {
    const shared = new Set(["experiment-kit"])
    const kinds = fs.readdirSync(path.join(root, "stages"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    expect(kinds).toEqual(expect.arrayContaining(["code-search", "experiment-kit", "gepa"]))
    const offenders: Array<string> = []
    for (const file of sourceFiles("stages").filter((f) => kinds.includes(layerOf(f)))) {
      const from = layerOf(file)
      for (const specifier of importsOf(file)) {
        const to = layerOf(resolveLocal(file, specifier) ?? "")
        if (!resolveLocal(file, specifier)?.startsWith("stages") || !kinds.includes(to) || to === from || shared.has(to)) continue
        offenders.push(`${file} -> ${specifier}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it("config.ts imports nothing heavy", () => {
    const heavy = importsOf("src/config.ts").filter((s) => /better-sqlite3|execa|^ai$|@ai-sdk|jiti/.test(s))
    expect(heavy).toEqual([])
  })
})
