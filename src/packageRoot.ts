/** The twoloop package root (where prompts/ and package.json live), from source or from dist/. */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

let cached: string | undefined

export const packageRoot = (): string => {
  if (cached) return cached
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = path.join(dir, "package.json")
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "twoloop") return (cached = dir)
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error("cannot find the twoloop package root")
    dir = parent
  }
}

export const packageVersion = (): string => JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version
