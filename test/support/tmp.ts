/** Temporary directories for tests, removed after the test file. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"

const created: Array<string> = []

export const tempDir = (prefix = "twoloop-test-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  created.push(dir)
  return dir
}

afterAll(() => {
  if (process.env.TWOLOOP_KEEP_TEST_DIRS) return
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
