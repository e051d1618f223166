/**
 * Finding, loading and decoding a pipeline config file. `.ts`, `.mts`, `.mjs` and `.js` files load through
 * jiti (Node 20 has no native TypeScript), with `twoloop/config` and `twoloop` aliased to the running
 * twoloop so a config never needs its own copy installed; `.json` files are parsed. Every failure is a
 * ConfigError naming the file (and the key path); nothing here opens or creates a store.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeConfig, type ResolvedConfig } from "../config.ts"
import { ConfigError } from "../domain/errors.ts"
import { registryDecoder } from "./StageKind.ts"

export const configFileNames = ["pipeline.config.ts", "pipeline.config.mts", "pipeline.config.mjs", "pipeline.config.js", "pipeline.config.json"]

/** The config file to use: `--config` when given, else the first default name found in `cwd`. */
export const findConfigFile = (explicit: string | undefined, cwd = process.cwd()): Effect.Effect<string, ConfigError> =>
  Effect.suspend(() => {
    if (explicit) {
      const file = path.resolve(cwd, explicit)
      return fs.existsSync(file) && fs.statSync(file).isFile() ? Effect.succeed(file) : Effect.fail(new ConfigError({ message: `${file}: config file not found` }))
    }
    const found = configFileNames.map((name) => path.join(cwd, name)).find((file) => fs.existsSync(file))
    return found ? Effect.succeed(found) : Effect.fail(new ConfigError({ message: `no pipeline config in ${cwd} (looked for ${configFileNames.join(", ")}); pass --config PATH` }))
  })

const here = fileURLToPath(import.meta.url)
const sourceExtension = path.extname(here)
const selfModule = (relative: string) => path.resolve(path.dirname(here), `${relative}${sourceExtension}`)

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split("\n")[0]!

/** The extensions a config file may have: TypeScript and JavaScript modules (through jiti), and JSON. */
export const configExtensions = [".ts", ".mts", ".cts", ".mjs", ".js", ".cjs", ".json"]

/** Loads the raw exported data of a config file. */
export const loadRawConfig = (file: string): Effect.Effect<unknown, ConfigError> =>
  configExtensions.includes(path.extname(file).toLowerCase())
    ? loadSupported(file)
    : Effect.fail(
        new ConfigError({
          message: `${file}: unsupported config file type ${JSON.stringify(path.extname(file) || "(no extension)")}; use one of ${configExtensions.join(", ")} (e.g. pipeline.config.ts exporting defineConfig({...}), or the same data as pipeline.config.json)`,
        }),
      )

const loadSupported = (file: string): Effect.Effect<unknown, ConfigError> =>
  Effect.tryPromise({
    try: async () => {
      if (file.endsWith(".json")) return JSON.parse(fs.readFileSync(file, "utf8")) as unknown
      const { createJiti } = await import("jiti")
      const jiti = createJiti(import.meta.url, {
        fsCache: false,
        moduleCache: false,
        interopDefault: true,
        alias: { "twoloop/config": selfModule("../config"), twoloop: selfModule("../index") },
      })
      return await jiti.import(file, { default: true })
    },
    catch: (error) => new ConfigError({ message: `${file}: cannot load the config: ${firstLine(error)}` }),
  })

/** Loads and decodes a config file, and checks that the target directory exists. */
export const loadConfig = (file: string): Effect.Effect<ResolvedConfig, ConfigError> =>
  Effect.gen(function* () {
    const raw = yield* loadRawConfig(file)
    if (raw === null || typeof raw !== "object" || Array.isArray(raw))
      return yield* new ConfigError({ message: `${file}: the config must default-export an object (got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw})` })
    const decoded = decodeConfig(raw, file, registryDecoder)
    if (!decoded.ok) return yield* new ConfigError({ message: decoded.message })
    const { config } = decoded
    if (!fs.existsSync(config.target.dir) || !fs.statSync(config.target.dir).isDirectory())
      return yield* new ConfigError({ message: `${file}: target.dir: directory ${config.target.dir} does not exist` })
    return config
  })
