/**
 * Process trees on Linux, read from /proc: the members of a process group and their descendants, their
 * summed resident memory, killing all of them, and finding the processes of one experiment by the
 * `TWOLOOP_RUN_ID` and `TWOLOOP_EXPERIMENT_ID` in their environment (orphan cleanup never matches by name,
 * nor by an experiment id alone: every store numbers its experiments from 1).
 */
import * as fs from "node:fs"

interface ProcInfo {
  readonly pid: number
  readonly state: string
  readonly ppid: number
  readonly pgrp: number
  readonly rssPages: number
}

const pageSize = 4096

const readStat = (pid: number): ProcInfo | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const close = text.lastIndexOf(")")
    const fields = text.slice(close + 2).split(" ")
    // fields[0] is state (field 3); ppid is field 4, pgrp field 5, rss field 24
    return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), rssPages: Number(fields[21]) }
  } catch {
    return undefined
  }
}

const allProcesses = (): Array<ProcInfo> => {
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return []
  }
  const out: Array<ProcInfo> = []
  for (const entry of entries) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid <= 0) continue
    const info = readStat(pid)
    if (info) out.push(info)
  }
  return out
}

export const procAvailable = (): boolean => fs.existsSync("/proc/self/stat")

/** The group leader `pid`, everything in its process group, and all their descendants. */
export const processTree = (pid: number): Array<number> => {
  const processes = allProcesses()
  const children = new Map<number, Array<number>>()
  for (const info of processes) {
    const list = children.get(info.ppid)
    if (list) list.push(info.pid)
    else children.set(info.ppid, [info.pid])
  }
  const members = new Set<number>(processes.filter((info) => info.pgrp === pid || info.pid === pid).map((info) => info.pid))
  const queue = [...members]
  while (queue.length > 0) {
    const next = queue.pop()!
    for (const child of children.get(next) ?? []) {
      if (!members.has(child)) {
        members.add(child)
        queue.push(child)
      }
    }
  }
  return [...members]
}

/** Summed resident memory of a process tree, in MB. */
export const treeRssMb = (pid: number): number => {
  const members = new Set(processTree(pid))
  let pages = 0
  for (const member of members) pages += readStat(member)?.rssPages ?? 0
  return (pages * pageSize) / (1024 * 1024)
}

/** True while the process exists and is not a zombie (a reaped-late zombie has already died). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
  const info = procAvailable() ? readStat(pid) : undefined
  return info === undefined ? !procAvailable() : info.state !== "Z" && info.state !== "X"
}

/** Living members of a process tree (zombies excluded). */
export const livingTree = (pid: number): Array<number> => processTree(pid).filter(isAlive)

/** Sends `signal` to the process group led by `pid` and to every descendant found in /proc. */
export const signalTree = (pid: number, signal: NodeJS.Signals): void => {
  const members = procAvailable() ? processTree(pid) : []
  try {
    process.kill(-pid, signal)
  } catch {
    // group already gone
  }
  for (const member of members) {
    try {
      process.kill(member, signal)
    } catch {
      // already gone
    }
  }
}

/** Pids whose environment carries both `TWOLOOP_RUN_ID=<runId>` and `TWOLOOP_EXPERIMENT_ID=<experimentId>`. */
export const processesOfExperiment = (runId: string, experimentId: number): Array<number> => {
  if (!procAvailable()) return []
  const markers = [`\u0000TWOLOOP_RUN_ID=${runId}\u0000`, `\u0000TWOLOOP_EXPERIMENT_ID=${experimentId}\u0000`]
  const out: Array<number> = []
  for (const info of allProcesses()) {
    try {
      const environ = `\u0000${fs.readFileSync(`/proc/${info.pid}/environ`, "latin1")}\u0000`
      if (markers.every((marker) => environ.includes(marker))) out.push(info.pid)
    } catch {
      // not ours to read, or gone
    }
  }
  return out
}
