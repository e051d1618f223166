/** What a tunable source reports for one file: the tunables it found, and the ones something else overrides. */
import type { Tunable } from "./index.ts"

export interface SetAside {
  readonly tunable: Tunable
  /** Why editing it could not take effect (or is not the search's business), e.g. "the command sets it (--lr 0.1)". */
  readonly reason: string
  /** True when an edit of it could not change what runs (a flag or a call overrides it); false when it is only not research. */
  readonly overridden: boolean
  /** The command-line words that set it, when it is the target's command that does. */
  readonly command?: string
}

export interface SourceFindings {
  readonly tunables: ReadonlyArray<Tunable>
  readonly overridden: ReadonlyArray<SetAside>
}
