#!/usr/bin/env node
// The twoloop executable: registers the built-in stage kinds, then runs the CLI.
import "../stages/index.ts"
import { main } from "../src/cli/main.ts"

process.exitCode = await main(process.argv.slice(2))
