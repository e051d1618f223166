/**
 * What the target's command line sets: the words of each simple command in `target.command` (and in
 * the shell scripts it runs from the target directory), so a tunable that a flag in the command overrides
 * (`python train.py --batch-size 32`, `train.py optim.lr=0.1`) is known before anything is edited. A flag
 * counts for a Python file when it follows that file's name (or `-m module`) in the same simple command;
 * when the command never names the file, the arguments of every program in it count. argparse's unambiguous prefixes (`--learn`
 * for `--learning-rate`) and attached values (`--lr=0.1`, `-l0.1`) are recognised. Pure.
 */
import { simpleCommands } from "../../../src/common/shellWords.ts"

export { simpleCommands }

const scriptWord = /\.(sh|bash)$/

/** The shell scripts a command runs by a relative path (`bash run.sh`, `./scripts/run.sh`). */
export const scriptsOf = (command: string): Array<string> =>
  simpleCommands(command)
    .flat()
    .filter((word) => scriptWord.test(word) && !word.startsWith("/") && !word.includes("$"))
    .map((word) => word.replace(/^\.\//, ""))

export interface CommandWords {
  /** Every simple command of the command line and of the scripts it runs. */
  readonly commands: ReadonlyArray<ReadonlyArray<string>>
}

export const commandWords = (command: string, scripts: ReadonlyMap<string, string> = new Map()): CommandWords => ({
  commands: [...simpleCommands(command), ...[...scripts.values()].flatMap(simpleCommands)],
})

const moduleOf = (file: string) => file.replace(/\.py$/, "").replace(/\//g, ".")

/** The words that are arguments of `file` (after its name or `-m module`), or every word when no command names it. */
export const argumentsFor = (words: CommandWords, file: string): Array<string> => {
  const named: Array<string> = []
  let mentioned = false
  for (const command of words.commands) {
    const at = command.findIndex((word, i) => {
      const plain = word.replace(/^\.\//, "")
      return plain === file || plain.endsWith(`/${file}`) || (file.endsWith(".py") && command[i - 1] === "-m" && word === moduleOf(file))
    })
    if (at === -1) continue
    mentioned = true
    named.push(...command.slice(at + 1))
  }
  if (mentioned) return named
  // No command names the file: the arguments of every program (after a script or `-m module`, else after the program's name).
  return words.commands.flatMap((command) => {
    const script = command.findIndex((word, i) => word.endsWith(".py") || command[i - 1] === "-m")
    return command.slice(script === -1 ? 1 : script + 1)
  })
}

/**
 * The word in `args` that sets an option with these `flags`, or undefined. `allLong` are every long
 * option of the same parser, to resolve argparse prefixes without ambiguity.
 */
export const flagSetting = (args: ReadonlyArray<string>, flags: ReadonlyArray<string>, allLong: ReadonlyArray<string> = flags.filter((f) => f.startsWith("--"))): string | undefined => {
  for (const [index, word] of args.entries()) {
    if (word === "--") break
    for (const flag of flags) {
      if (flag.endsWith("=")) {
        if (word.startsWith(flag)) return word
        continue
      }
      const option = word.split("=")[0]!
      if (option === flag) return word.includes("=") || index + 1 >= args.length || args[index + 1]!.startsWith("-") ? word : `${word} ${args[index + 1]}`
      if (flag.startsWith("--") && option.startsWith("--") && option.length > 2 && flag.startsWith(option) && !allLong.includes(option)) {
        const matches = allLong.filter((long) => long.startsWith(option))
        if (matches.length === 1 && matches[0] === flag) return word.includes("=") || index + 1 >= args.length ? word : `${word} ${args[index + 1]}`
      }
      if (/^-[^-]$/.test(flag) && word.startsWith(flag) && word.length > 2 && !word.startsWith("--") && !allLong.includes(word)) return word
    }
  }
  return undefined
}
