/**
 * Crash injection for the kill-and-resume tests. With `TWOLOOP_FAILPOINT=<name>` or `<name>:<n>` in the
 * environment, the process kills itself with SIGKILL the n-th time (default the first) it passes the named
 * point — exactly like a power cut there: no finalizer, no flush. Without the variable a failpoint costs
 * one comparison. Names used in the code: llm-replied, experiment-running (the process started and its row
 * says so), experiment-ended, proposal-planned, kept-commit, gepa-val-evaluation, gepa-proposal-recorded,
 * gepa-checkpoint, stage-completed.
 */
import { Effect } from "effect"

const parse = (value: string | undefined): { readonly name: string; readonly hit: number } | undefined => {
  if (!value) return undefined
  const [name, hit] = value.split(":")
  return name ? { name, hit: hit ? Math.max(1, Number(hit)) : 1 } : undefined
}

const armed = parse(process.env.TWOLOOP_FAILPOINT)
let hits = 0

export const failpoint = (name: string): Effect.Effect<void> =>
  armed === undefined || armed.name !== name
    ? Effect.void
    : Effect.sync(() => {
        hits += 1
        if (hits === armed.hit) {
          process.stderr.write(`twoloop: failpoint ${name}:${hits} reached, killing this process\n`)
          process.kill(process.pid, "SIGKILL")
        }
      })
