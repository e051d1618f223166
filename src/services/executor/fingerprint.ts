/**
 * The environment an experiment ran in (GPU names and driver, CPU, memory, OS, node, python and torch
 * versions), so results can be compared across machines. Probes are bounded in time and never fail.
 */
import { execa } from "execa"
import * as os from "node:os"
import type { EnvironmentFingerprint } from "../../domain/Experiment.ts"

const probe = async (file: string, args: ReadonlyArray<string>, env?: Record<string, string>): Promise<string | null> => {
  try {
    const result = await execa(file, args, { timeout: 15_000, reject: false, ...(env ? { env, extendEnv: false } : {}) })
    return result.exitCode === 0 ? `${result.stdout}`.trim() : null
  } catch {
    return null
  }
}

export interface GpuInfo {
  readonly index: number
  readonly name: string
  readonly driver: string
  readonly memoryMb: number | null
}

/** GPUs as nvidia-smi lists them; empty when there is no nvidia-smi or no GPU. */
export const queryGpus = async (): Promise<Array<GpuInfo>> => {
  const text = await probe("nvidia-smi", ["--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"])
  if (!text) return []
  return text
    .split("\n")
    .map((line) => line.split(",").map((part) => part.trim()))
    .filter((parts) => parts.length >= 3 && /^\d+$/.test(parts[0]!))
    .map(([index, name, driver, memory]) => ({ index: Number(index), name: name!, driver: driver!, memoryMb: memory && /^\d+$/.test(memory) ? Number(memory) : null }))
}

/** The python experiments use: TWOLOOP_PYTHON when set, else python3 on PATH. */
export const pythonCommand = (env: Readonly<Record<string, string | undefined>> = process.env) => env.TWOLOOP_PYTHON ?? "python3"

export const fingerprintEnvironment = async (env: Record<string, string>): Promise<EnvironmentFingerprint> => {
  const python = pythonCommand(env)
  const [gpus, pythonVersion, torchVersion] = await Promise.all([
    queryGpus(),
    probe(python, ["-c", "import platform; print(platform.python_version())"], env),
    probe(python, ["-c", "import torch; print(torch.__version__)"], env),
  ])
  const cpus = os.cpus()
  return {
    host: os.hostname(),
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: pythonVersion,
    torch: torchVersion,
    gpus,
  }
}
