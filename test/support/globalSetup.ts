/**
 * Builds dist/ once before the tests, so subprocess tests run the real compiled `twoloop` executable from
 * the current sources (tsc 7 takes about a second) instead of paying a TypeScript loader at every start.
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"

export default function setup() {
  const root = path.resolve(import.meta.dirname, "../..")
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", path.join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" })
}
