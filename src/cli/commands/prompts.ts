/**
 * `twoloop prompts list | show <id> | export <id> [--out file.md] | import <file.md> | rm <id>`: the prompt
 * library, `$TWOLOOP_HOME/library.db` (default `~/.twoloop/library.db`), shared by every project.
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigError, RunError } from "../../domain/errors.ts"
import { libraryPath } from "../../pipeline/layers.ts"
import { parseEntryMarkdown, renderEntryMarkdown } from "../../pipeline/library.ts"
import { Library } from "../../services/Store.ts"
import { printLine } from "../shared.ts"

const withLibrary = <A, E>(body: Effect.Effect<A, E, Library>) => body.pipe(Effect.provide(Library.layer(libraryPath())))

const findEntry = (id: string) =>
  Effect.gen(function* () {
    const library = yield* Library
    const entry = yield* library.library.getLibraryEntry(id)
    if (!entry) return yield* new RunError({ message: `no prompt ${id} in the library ${libraryPath()} (or the prefix is ambiguous); see twoloop prompts list` })
    return entry
  })

const list = Command.make("list", { project: Flag.String("project").pipe(Flag.withDescription("only this project's prompts"), Flag.optional) }, (flags) =>
  withLibrary(
    Effect.gen(function* () {
      const library = yield* Library
      const entries = yield* library.library.listLibraryEntries(Option.isSome(flags.project) ? { project: flags.project.value } : {})
      if (entries.length === 0) return yield* printLine(`the library ${libraryPath()} is empty; prompts are saved there at the end of runs with an outer stage`)
      yield* printLine(`library: ${libraryPath()}`)
      yield* printLine("| id | project | metric | gain | model | created |")
      yield* printLine("|---|---|---|---|---|---|")
      for (const e of entries)
        yield* printLine(`| ${e.id} | ${e.project} | ${e.metric} (${e.direction}) | ${e.gain === null ? "–" : Number(e.gain.toPrecision(4))} | ${e.model}${e.offline ? " (offline)" : ""} | ${e.createdAt.slice(0, 19)} |`)
    }),
  ),
).pipe(Command.withDescription("list saved prompts"))

const show = Command.make("show", { id: Argument.String("id") }, (flags) =>
  withLibrary(findEntry(flags.id).pipe(Effect.flatMap((entry) => printLine(renderEntryMarkdown(entry))))),
).pipe(Command.withDescription("print a saved prompt"))

const exportCommand = Command.make(
  "export",
  { id: Argument.String("id"), out: Flag.String("out").pipe(Flag.withAlias("o"), Flag.withDescription("write to this file instead of stdout"), Flag.optional) },
  (flags) =>
    withLibrary(
      Effect.gen(function* () {
        const entry = yield* findEntry(flags.id)
        const text = renderEntryMarkdown(entry)
        if (Option.isNone(flags.out)) return yield* printLine(text)
        const file = path.resolve(flags.out.value)
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, text)
        yield* printLine(`exported ${entry.id} to ${file}`)
      }),
    ),
).pipe(Command.withDescription("export a prompt as Markdown with front matter"))

const importCommand = Command.make("import", { file: Argument.String("file") }, (flags) =>
  withLibrary(
    Effect.gen(function* () {
      const file = path.resolve(flags.file)
      if (!fs.existsSync(file)) return yield* new ConfigError({ message: `${file}: file not found` })
      const parsed = parseEntryMarkdown(fs.readFileSync(file, "utf8"), file)
      if (!parsed.ok) return yield* new ConfigError({ message: parsed.message })
      const library = yield* Library
      yield* library.library.putLibraryEntry(parsed.entry)
      yield* printLine(`imported ${parsed.entry.id} (${parsed.entry.project}) into ${libraryPath()}; use it with seedFromLibrary: "${parsed.entry.id}"`)
    }),
  ),
).pipe(Command.withDescription("import a prompt exported by twoloop prompts export"))

const remove = Command.make("rm", { id: Argument.String("id").pipe(Argument.withDescription("the entry's id (or a unique prefix)")) }, (flags) =>
  withLibrary(
    Effect.gen(function* () {
      const entry = yield* findEntry(flags.id)
      const library = yield* Library
      yield* library.library.deleteLibraryEntry(entry.id)
      yield* printLine(`removed ${entry.id} (${entry.project}) from the library ${libraryPath()}`)
    }),
  ),
).pipe(Command.withDescription("remove a saved prompt from the library"))

export const promptsCommand = Command.make("prompts").pipe(
  Command.withDescription("the prompt library shared across projects: $TWOLOOP_HOME/library.db (default ~/.twoloop/library.db)"),
  Command.withSubcommands([list, show, exportCommand, importCommand, remove]),
)
