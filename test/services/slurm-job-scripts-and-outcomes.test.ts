import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { isActiveState, jobFiles, jobOutcome, jobScript, parseJobId, parseScontrol, sbatchArgs, timeLimitMinutes } from "../../src/services/executor/slurm.ts"
import { tempDir } from "../support/tmp.ts"

describe("SLURM job scripts, arguments and outcomes", () => {
  it("derives --time from the hard limit and passes the configured resources", () => {
    expect(timeLimitMinutes(50, 5)).toBe(2)
    expect(timeLimitMinutes(600, 5)).toBe(12)
    const files = jobFiles("/shared/run/inner/experiment-7.log")
    expect(files.exit).toBe("/shared/run/inner/experiment-7.exit")
    const args = sbatchArgs({ sandbox: "none", partition: "gpu", gres: "gpu:1", cpusPerTask: 8, mem: "32G", account: "lab", qos: "high", extraArgs: ["--constraint=h100"] }, { experimentId: 7, cwd: "/shared/wt", hardLimitSeconds: 600, killGraceSeconds: 5 }, files)
    expect(args).toEqual([
      "--parsable", "--job-name=twoloop-7", "--chdir=/shared/wt", `--output=${files.stdout}`, `--error=${files.stderr}`, "--time=12", "--export=ALL", "--ntasks=1",
      "--partition=gpu", "--gres=gpu:1", "--cpus-per-task=8", "--mem=32G", "--account=lab", "--qos=high", "--constraint=h100", files.script,
    ])
  })

  it("writes a job script that runs the command in the worktree and records its exit code, quoting safely", () => {
    const dir = tempDir("twoloop-slurm-script-")
    const cwd = path.join(dir, "it's here")
    fs.mkdirSync(cwd)
    const files = jobFiles(path.join(dir, "experiment-1.log"))
    const script = jobScript({ experimentId: 1, cwd, command: `echo "in $(basename "$PWD")"; echo 'quoted'; exit 3` }, files, "none")
    fs.writeFileSync(files.script, script)
    let status = 0
    let out = ""
    try {
      out = execFileSync("/bin/sh", [files.script], { encoding: "utf8" })
    } catch (error) {
      status = (error as { status: number }).status
      out = (error as { stdout: string }).stdout
    }
    expect(status).toBe(3)
    expect(out).toBe("in it's here\nquoted\n")
    expect(fs.readFileSync(files.exit, "utf8")).toBe("3\n")
    expect(jobScript({ experimentId: 1, cwd, command: "true" }, files, "bwrap")).toContain("'bwrap' '--ro-bind' '/' '/'")
  })

  it("parses sbatch and scontrol output", () => {
    expect(parseJobId("1234\n")).toBe("1234")
    expect(parseJobId("1234;cluster-a")).toBe("1234")
    expect(parseJobId("sbatch: error: oops")).toBeUndefined()
    const fields = parseScontrol("JobId=12 JobName=twoloop-3 JobState=NODE_FAIL Reason=NodeDown ExitCode=0:0 RunTime=00:00:07")
    expect(fields).toMatchObject({ JobId: "12", JobState: "NODE_FAIL", Reason: "NodeDown", ExitCode: "0:0" })
    expect(isActiveState("PENDING")).toBe(true)
    expect(isActiveState("COMPLETED")).toBe(false)
  })

  it("maps how a job ended to an experiment ending", () => {
    expect(jobOutcome("9", "0\n", undefined, false)).toEqual({ exitCode: 0, signal: null, timedOut: false, failure: null })
    expect(jobOutcome("9", "2\n", undefined, true)).toMatchObject({ exitCode: 2, timedOut: false })
    expect(jobOutcome("9", undefined, { JobState: "CANCELLED" }, true)).toMatchObject({ timedOut: true })
    expect(jobOutcome("9", undefined, { JobState: "TIMEOUT", ExitCode: "0:15" }, false)).toMatchObject({ timedOut: true, failure: null })
    expect(jobOutcome("9", undefined, { JobState: "FAILED", ExitCode: "1:0" }, false)).toMatchObject({ exitCode: 1, failure: null })
    expect(jobOutcome("9", undefined, { JobState: "NODE_FAIL", Reason: "NodeDown" }, false).failure).toBe("SLURM job 9 ended NODE_FAIL (NodeDown)")
    expect(jobOutcome("9", undefined, { JobState: "OUT_OF_MEMORY" }, false).failure).toBe("SLURM job 9 ended OUT_OF_MEMORY")
    expect(jobOutcome("9", undefined, { JobState: "CANCELLED+" }, false).failure).toMatch(/cancelled outside twoloop/)
    expect(jobOutcome("9", undefined, undefined, false).failure).toMatch(/SLURM job 9 was lost/)
  })
})
