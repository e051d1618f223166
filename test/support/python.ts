/**
 * Python interpreters for the Python fixtures. Debian's /usr/bin/python3 comes first (a pyenv shim earlier
 * on PATH takes over a second to start), then TWOLOOP_PYTHON and python3 on PATH. A test that needs one
 * skips with a visible reason when none is found, except under CI=true, where it must fail (.ci/run
 * installs them).
 */
import { execFileSync } from "node:child_process"

const candidates = [...new Set(["/usr/bin/python3", process.env.TWOLOOP_PYTHON, "python3"].filter((p): p is string => !!p))]

const imports = (interpreter: string, module: string) => {
  try {
    execFileSync(interpreter, ["-c", `import ${module}`], { stdio: "ignore", timeout: 60_000 })
    return true
  } catch {
    return false
  }
}

const found = new Map<string, string | undefined>()

/** The first interpreter that imports `module` (cached), or undefined. */
export const pythonWith = (module: string): string | undefined => {
  if (!found.has(module)) found.set(module, candidates.find((candidate) => imports(candidate, module)))
  return found.get(module)
}

/** Any Python 3 with the standard library (for the dependency-free fixtures). */
export const python = pythonWith("dataclasses")

/** True when a test needing `module` must be skipped: none found and not under CI (where it must fail). */
export const skipWithout = (module: string, what: string): boolean => {
  if (pythonWith(module) || process.env.CI === "true") return false
  console.warn(`skipping ${what}: no python that imports ${module} (tried ${candidates.join(", ")}; set TWOLOOP_PYTHON)`)
  return true
}
