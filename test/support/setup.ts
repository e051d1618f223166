/** Per-worker test setup: a private TWOLOOP_HOME so no test touches the user's prompt library. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

if (!process.env.TWOLOOP_TEST_HOME_SET) {
  process.env.TWOLOOP_HOME = fs.mkdtempSync(path.join(os.tmpdir(), "twoloop-home-"))
  process.env.TWOLOOP_TEST_HOME_SET = "1"
}
