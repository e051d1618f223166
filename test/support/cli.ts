/** Runs the real `twoloop` executable (dist/, built from the current sources by the global setup) as a subprocess. */
import { execa } from "execa"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "dist/bin/twoloop.js")

export const twoloop = (args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}) =>
  execa(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? root,
    env: { ...options.env },
    reject: false,
    timeout: options.timeout ?? 600_000,
    all: true,
  })
