/**
 * What a code-search stage can know before a run starts: whether its experiment budget pays for more than
 * the baseline runs, and — with the offline proposer — whether the editable files hold anything it can
 * move. Also warns about tunables the target's command sets (they are left alone) and notes what will be
 * searched.
 */
import type { PreflightContext, PreflightFinding } from "../../src/pipeline/StageKind.ts"
import { tunableFindings } from "../experiment-kit/tunables/target.ts"
import type { CodeSearchOptions } from "./options.ts"

export const codeSearchPreflight = ({ config, options, at }: PreflightContext<CodeSearchOptions>): Array<PreflightFinding> => {
  const findings: Array<PreflightFinding> = []
  const experiments = options.budget.experiments
  if (experiments !== undefined && experiments <= options.baselineRuns)
    findings.push({
      level: "error",
      message: `${at}.budget.experiments: ${experiments} pays for the ${options.baselineRuns} baseline run${options.baselineRuns === 1 ? "" : "s"} (baselineRuns) and no candidate; give at least ${options.baselineRuns + 1}`,
    })
  const offline = options.proposer === "offline" || (options.proposer === "auto" && config.model === "offline")
  findings.push(...tunableFindings(config.target, offline))
  return findings
}
