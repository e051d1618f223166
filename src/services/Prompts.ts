/**
 * Prompt templates: Markdown files in the package's prompts/ folder, or a user's file named in the config.
 * Each load returns the text and its sha256, which is stored with every LLM call rendered from it.
 * Fails with ConfigError when a named template does not exist.
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { sha256 } from "../common/hash.ts"
import { ConfigError } from "../domain/errors.ts"
import { packageRoot } from "../packageRoot.ts"

export interface PromptTemplate {
  readonly name: string
  readonly text: string
  readonly hash: string
  readonly file: string
}

export interface PromptsShape {
  /**
   * Loads a template: `name` is either a bundled template name (`agent`, `gepa-reflection`) or a path to a
   * `.md` file, resolved against `baseDir` (the config's directory) when relative.
   */
  readonly load: (name: string, baseDir?: string) => Effect.Effect<PromptTemplate, ConfigError>
}

export const hashTemplate = (text: string) => sha256(text)

export const bundledPromptsDir = () => path.join(packageRoot(), "prompts")

export const loadTemplateSync = (name: string, baseDir?: string): PromptTemplate | { error: string } => {
  const looksLikePath = name.includes("/") || name.endsWith(".md")
  const file = looksLikePath ? path.resolve(baseDir ?? process.cwd(), name) : path.join(bundledPromptsDir(), `${name}.md`)
  try {
    const text = fs.readFileSync(file, "utf8")
    return { name, text, hash: hashTemplate(text), file }
  } catch (error) {
    return { error: `prompt template ${JSON.stringify(name)} not found (${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)})` }
  }
}

export class Prompts extends Context.Service<Prompts, PromptsShape>()("twoloop/Prompts") {
  static readonly layer = Layer.succeed(
    Prompts,
    Prompts.of({
      load: Effect.fn("Prompts.load")(function* (name: string, baseDir?: string) {
        const loaded = loadTemplateSync(name, baseDir)
        if ("error" in loaded) return yield* new ConfigError({ message: loaded.error })
        return loaded
      }),
    }),
  )
}

/** Fills `{{name}}` placeholders; a placeholder without a value is left as is. */
export const renderTemplate = (template: string, values: Readonly<Record<string, string>>): string =>
  template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (match, key: string) => (key in values ? values[key]! : match))
