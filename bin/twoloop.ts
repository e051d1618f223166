#!/usr/bin/env node
// The twoloop executable: seals secret variables away from the process environment (and from what
// /proc/<pid>/environ shows experiments; common/secrets.ts), registers the built-in stage kinds, then runs
// the CLI.
import { sealSecrets } from "../src/common/secrets.ts"
import "../stages/index.ts"
import { main } from "../src/cli/main.ts"

sealSecrets()
process.exitCode = await main(process.argv.slice(2))
