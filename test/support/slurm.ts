/**
 * A real single-node SLURM for the executor's tests. `.ci/run` starts one with test/slurm/start.sh and
 * exports SLURM_CONF; on a developer machine the tests start it themselves (root and Debian slurm-wlm +
 * munge needed) and stop it afterwards. Without SLURM the tests skip with a reason, except under CI=true.
 */
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"

const scripts = path.resolve(import.meta.dirname, "../slurm")

const hasSbatch = () => (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, "sbatch")))

export const slurmUnavailable: string | undefined = hasSbatch() ? (process.getuid?.() === 0 || process.env.SLURM_CONF ? undefined : "not root, and no SLURM_CONF for a running cluster") : "sbatch not found (apt-get install slurm-wlm munge)"

/** Makes sure a cluster is up; returns a function that stops it if this call started it. */
export const ensureSlurm = async (): Promise<() => Promise<void>> => {
  const conf = process.env.SLURM_CONF
  if (conf && fs.existsSync(conf) && (await execa("scontrol", ["ping"], { reject: false })).exitCode === 0) return async () => {}
  const started = await execa("bash", [path.join(scripts, "start.sh")], { reject: false, all: true })
  if (started.exitCode !== 0) throw new Error(`test/slurm/start.sh failed:\n${started.all}`)
  process.env.SLURM_CONF = String(started.stdout).trim().split("\n").at(-1)!
  return async () => {
    await execa("bash", [path.join(scripts, "stop.sh")], { reject: false })
  }
}

/** Job ids squeue lists whose name starts with twoloop-. */
export const queuedTwoloopJobs = async (): Promise<Array<string>> => {
  const result = await execa("squeue", ["-h", "-o", "%i %j"], { reject: false })
  return String(result.stdout)
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, name]) => name?.startsWith("twoloop-"))
    .map(([id]) => id!)
}

export const jobState = async (jobId: string): Promise<string | undefined> => {
  const result = await execa("scontrol", ["show", "job", "-o", jobId], { reject: false })
  return /JobState=(\S+)/.exec(String(result.stdout))?.[1]
}
