/** Runs the real `twoloop` executable (from source, through tsx) as a subprocess. */
import { execa } from "execa"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const tsx = path.join(root, "node_modules/.bin/tsx")
const bin = path.join(root, "bin/twoloop.ts")

export const twoloop = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}) =>
  execa(tsx, [bin, ...args], {
    cwd: options.cwd ?? root,
    env: { ...options.env },
    reject: false,
    timeout: options.timeout ?? 120_000,
    all: true,
  })
