/**
 * A small shell word splitter: enough of POSIX sh quoting (single and double quotes, backslashes,
 * comments) to read the words of a command line, per simple command. It does not expand anything;
 * `$VAR` stays as written. Pure.
 */

/** Words of a shell command line, per simple command (split at `;`, `&&`, `||`, `|`, `&`, newlines). */
export const simpleCommands = (line: string): Array<Array<string>> => {
  const commands: Array<Array<string>> = []
  let words: Array<string> = []
  let word = ""
  let inWord = false
  let quote: string | null = null
  const endWord = () => {
    if (inWord) words.push(word)
    word = ""
    inWord = false
  }
  const endCommand = () => {
    endWord()
    if (words.length > 0) commands.push(words)
    words = []
  }
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!
    if (quote) {
      if (char === quote) quote = null
      else if (char === "\\" && quote === '"' && i + 1 < line.length) word += line[++i]
      else word += char
      continue
    }
    if (char === "'" || char === '"') {
      quote = char
      inWord = true
    } else if (char === "\\" && i + 1 < line.length) {
      if (line[i + 1] !== "\n") {
        word += line[i + 1]
        inWord = true
      }
      i++
    } else if (char === "#" && !inWord) {
      while (i < line.length && line[i] !== "\n") i++
      endCommand()
    } else if (char === ";" || char === "\n" || char === "|" || char === "&") {
      endCommand()
      if ((char === "|" || char === "&") && line[i + 1] === char) i++
    } else if (/\s/.test(char)) endWord()
    else {
      word += char
      inWord = true
    }
  }
  endCommand()
  return commands
}

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR-default}` in a word with `env`; undefined when
 * the word holds anything else that the shell would expand (command substitution, arithmetic, globs of
 * other parameter forms), or a variable `env` does not have and no default covers.
 */
export const expandParameters = (word: string, env: Readonly<Record<string, string | undefined>>): string | undefined => {
  if (/`|\$\(/.test(word)) return undefined
  let unknown = false
  const expanded = word.replace(/\$\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_]\w*)/g, (_match, braced: string | undefined, operator: string | undefined, fallback: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!
    const value = env[name]
    if (operator === ":-") return value !== undefined && value !== "" ? value : (fallback ?? "")
    if (operator === "-") return value !== undefined ? value : (fallback ?? "")
    if (value === undefined) unknown = true
    return value ?? ""
  })
  return unknown || expanded.includes("$") ? undefined : expanded
}
