/**
 * What counts as a secret in the environment, how to drop secrets from an experiment's environment, and
 * how to redact their values from any text before it is stored or printed.
 */

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

/** Secret values present in `env` that are long enough to redact without mangling ordinary text. */
export const secretValues = (env: Readonly<Record<string, string | undefined>>): Array<string> =>
  Object.entries(env)
    .filter(([name, value]) => value !== undefined && value.length >= 8 && isSecretName(name))
    .map(([, value]) => value!)
    .sort((a, b) => b.length - a.length)

/** Replaces every occurrence of a secret value from `env` in `text` by `[redacted]`. */
export const makeRedactor = (env: Readonly<Record<string, string | undefined>> = process.env) => {
  const values = secretValues(env)
  return (text: string): string => {
    let out = text
    for (const value of values) if (out.includes(value)) out = out.split(value).join("[redacted]")
    return out
  }
}
