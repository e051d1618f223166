/**
 * What counts as a secret in the environment, how to keep secrets away from experiments, and how to redact
 * their values from text and byte streams before they are stored, printed or sent.
 *
 * Sealing: an experiment runs as the same user as twoloop, so it can read `/proc/<pid>/environ` of twoloop
 * (its parent) and of any other process of that user outside a PID namespace. That file shows the environment
 * block a process was started with; `delete process.env.X` does not change it. `sealSecrets` moves the secret
 * variables out of `process.env` into a private vault that only `fullEnvironment` reads (the LLM providers,
 * doctor, the dashboard token) and overwrites their values in twoloop's own start-up environment block
 * through `/proc/self/mem`. It is idempotent and best effort: without /proc it only empties `process.env`.
 * Processes that started twoloop (a shell, `npm start`) keep their own copies; see the README.
 */
import * as fs from "node:fs"

const secretWords = /(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|SESSION_?KEY|AUTH_?KEY)/i
const secretSuffix = /_KEY$/i

/** True for environment variable names that hold credentials (OPENAI_API_KEY, *_TOKEN, *_SECRET, ...). */
export const isSecretName = (name: string): boolean => secretWords.test(name) || secretSuffix.test(name)

/** A copy of `env` without secret variables. */
export const scrubEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !isSecretName(name)) out[name] = value
  return out
}

/** Secret variables moved out of `process.env`; on globalThis so a second copy of this module (jiti) shares it. */
const vault: Record<string, string> = ((globalThis as Record<symbol, unknown>)[Symbol.for("twoloop.secretVault")] ??= {}) as Record<string, string>

/** `process.env` together with the secret variables `sealSecrets` took out of it (process.env wins). */
export const fullEnvironment = (): Record<string, string | undefined> => ({ ...vault, ...process.env })

/** Offsets of the start-up environment block in this process's memory (fields 50 and 51 of /proc/self/stat). */
const environBlock = (): { readonly start: number; readonly end: number } | undefined => {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const start = Number(fields[47])
    const end = Number(fields[48])
    return Number.isSafeInteger(start) && Number.isSafeInteger(end) && end > start ? { start, end } : undefined
  } catch {
    return undefined
  }
}

/** Zeroes the values of `names` in this process's start-up environment block; false when it cannot. */
const overwriteStartupValues = (names: ReadonlyArray<string>): boolean => {
  const block = environBlock()
  if (!block) return false
  let fd: number | undefined
  try {
    fd = fs.openSync("/proc/self/mem", "r+")
    const bytes = Buffer.alloc(block.end - block.start)
    fs.readSync(fd, bytes, 0, bytes.length, block.start)
    for (const name of names) {
      const key = Buffer.from(`${name}=`, "latin1")
      for (let at = bytes.indexOf(key); at !== -1; at = bytes.indexOf(key, at + 1)) {
        if (at > 0 && bytes[at - 1] !== 0) continue
        const value = at + key.length
        let end = bytes.indexOf(0, value)
        if (end === -1) end = bytes.length
        if (end > value) fs.writeSync(fd, Buffer.alloc(end - value), 0, end - value, block.start + value)
      }
    }
    return true
  } catch {
    return false
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

export interface SealResult {
  /** Variables moved into the vault by this call. */
  readonly sealed: ReadonlyArray<string>
  /** Whether their values could be wiped from the start-up environment block (false without /proc). */
  readonly wiped: boolean
}

/** Moves secret variables from `process.env` into the vault and wipes them from `/proc/self/environ`. */
export const sealSecrets = (): SealResult => {
  const names = Object.keys(process.env).filter((name) => isSecretName(name) && process.env[name] !== undefined)
  if (names.length === 0) return { sealed: [], wiped: true }
  for (const name of names) {
    vault[name] = process.env[name]!
    delete process.env[name]
  }
  return { sealed: names, wiped: overwriteStartupValues(names) }
}

/** Secret values present in `env` that are long enough to redact without mangling ordinary text. */
export const secretValues = (env: Readonly<Record<string, string | undefined>> = fullEnvironment()): Array<string> =>
  [...new Set(Object.entries(env).filter(([name, value]) => value !== undefined && value.length >= 8 && isSecretName(name)).map(([, value]) => value!))].sort(
    (a, b) => b.length - a.length,
  )

export const redactionMarker = "[redacted]"

/** Replaces every occurrence of one of `values` in `text` by `[redacted]`. */
export const redactorOf = (values: ReadonlyArray<string>) => (text: string): string => {
  let out = text
  for (const value of values) if (out.includes(value)) out = out.split(value).join(redactionMarker)
  return out
}

/** Replaces every occurrence of a secret value from `env` in `text` by `[redacted]`. */
export const makeRedactor = (env: Readonly<Record<string, string | undefined>> = fullEnvironment()) => redactorOf(secretValues(env))

/**
 * Redacts secret values from a byte stream cut into arbitrary chunks: a value split across two chunks is
 * still found, because a chunk's tail that could be the start of a secret value is held back until the next
 * chunk (or `end`). Only such a tail is held: a line printed before the process waits is passed on at once.
 */
export class StreamRedactor {
  private readonly values: ReadonlyArray<Buffer>
  private readonly holdBack: number
  private held: Buffer = Buffer.alloc(0)

  constructor(values: ReadonlyArray<string> = secretValues()) {
    this.values = values.map((value) => Buffer.from(value, "utf8"))
    this.holdBack = Math.max(0, ...this.values.map((value) => value.length - 1))
  }

  /** The bytes that are safe to pass on now. */
  push(chunk: Buffer): Buffer {
    if (this.values.length === 0) return chunk
    const redacted = this.redact(this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk)
    const keep = this.secretPrefixAtEnd(redacted)
    this.held = Buffer.from(redacted.subarray(redacted.length - keep))
    return redacted.subarray(0, redacted.length - keep)
  }

  /** The length of the longest tail of `bytes` that is the beginning of a secret value (0 when none is). */
  private secretPrefixAtEnd(bytes: Buffer): number {
    for (let length = Math.min(this.holdBack, bytes.length); length > 0; length--) {
      const tail = bytes.subarray(bytes.length - length)
      if (this.values.some((value) => value.length > length && value.subarray(0, length).equals(tail))) return length
    }
    return 0
  }

  /** Whatever is still held back, redacted. */
  end(): Buffer {
    const rest = this.redact(this.held)
    this.held = Buffer.alloc(0)
    return rest
  }

  private redact(bytes: Buffer): Buffer {
    let out = bytes
    for (const value of this.values) {
      let at = out.indexOf(value)
      if (at === -1) continue
      const pieces: Array<Buffer> = []
      let from = 0
      while (at !== -1) {
        pieces.push(out.subarray(from, at), Buffer.from(redactionMarker))
        from = at + value.length
        at = out.indexOf(value, from)
      }
      pieces.push(out.subarray(from))
      out = Buffer.concat(pieces)
    }
    return out
  }
}
