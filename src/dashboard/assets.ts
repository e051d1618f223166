/**
 * The front end, served from the package itself (nothing from a CDN, so it works offline): the files of
 * `src/dashboard/static/` and Chart.js's browser build from node_modules, read into memory once at startup.
 * Only these paths exist; a request can never name another file.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { packageRoot } from "../packageRoot.ts"

export interface Asset {
  readonly body: Uint8Array
  readonly type: string
  readonly etag: string
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
}

const asset = (body: Uint8Array, name: string): Asset => ({
  body,
  type: types[path.extname(name)] ?? "application/octet-stream",
  etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 20)}"`,
})

export const staticDir = () => path.join(packageRoot(), "src", "dashboard", "static")

/** Chart.js's UMD build (it defines `window.Chart`); the package exports only its module entry, so go from there. */
export const chartJsFile = () => path.join(path.dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js")

/** URL path → asset. `/` is index.html. */
export const loadAssets = (): ReadonlyMap<string, Asset> => {
  const assets = new Map<string, Asset>()
  const dir = staticDir()
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name)
    if (!fs.statSync(file).isFile() || !types[path.extname(name)]) continue
    assets.set(`/${name}`, asset(fs.readFileSync(file), name))
  }
  const index = assets.get("/index.html")
  if (index) assets.set("/", index)
  assets.set("/vendor/chart.umd.min.js", asset(fs.readFileSync(chartJsFile()), "chart.umd.min.js"))
  return assets
}
