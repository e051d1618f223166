/**
 * Process trees on Linux, read from /proc: the members of a process group and their descendants, their
 * summed resident memory, killing them, finding the processes of one experiment by the marker variables in
 * their environment (`TWOLOOP_EXPERIMENT_ID`, `TWOLOOP_RUN_ID`; never by name), and the processes that hold
 * one of its output pipes.
 */
import * as fs from "node:fs"

interface ProcInfo {
  readonly pid: number
  readonly state: string
  readonly ppid: number
  readonly pgrp: number
  readonly rssPages: number
  /** When the process started, in clock ticks since boot. */
  readonly startTicks: number
}

const pageSize = 4096

const readStat = (pid: number): ProcInfo | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const close = text.lastIndexOf(")")
    const fields = text.slice(close + 2).split(" ")
    // fields[0] is state (field 3); ppid is field 4, pgrp field 5, starttime field 22, rss field 24
    return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), startTicks: Number(fields[19]), rssPages: Number(fields[21]) }
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

/**
 * The group leader `pid`, everything in its process group, and all their descendants. Once the leader has
 * been reaped its pid may be reused, so with `leaderGone` only the group's members seed the tree (a process
 * group id is not reused while the group has members).
 */
export const processTree = (pid: number, options: { readonly leaderGone?: boolean } = {}): Array<number> => {
  const processes = allProcesses()
  const children = new Map<number, Array<number>>()
  for (const info of processes) {
    const list = children.get(info.ppid)
    if (list) list.push(info.pid)
    else children.set(info.ppid, [info.pid])
  }
  const members = new Set<number>(processes.filter((info) => info.pgrp === pid || (info.pid === pid && !options.leaderGone)).map((info) => info.pid))
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

/** The variables that mark every process of one experiment (set by the executor, inherited by children). */
export interface ExperimentMarker {
  readonly experimentId: number
  /** The run (or, outside a run, a random id per spawn) the experiment belongs to; absent for rows from before it was set. */
  readonly runId?: string | undefined
}

/** When `pid` started, in clock ticks since boot (undefined when it is gone). */
export const startTicksOf = (pid: number): number | undefined => readStat(pid)?.startTicks

/**
 * Pids whose environment carries `TWOLOOP_EXPERIMENT_ID=<experimentId>` (and `TWOLOOP_RUN_ID=<runId>` when
 * given). `startedSince` (clock ticks, see startTicksOf) skips older processes without reading their environment.
 */
export const processesOfExperiment = (marker: ExperimentMarker | number, startedSince = 0): Array<number> => {
  if (!procAvailable()) return []
  const { experimentId, runId } = typeof marker === "number" ? { experimentId: marker, runId: undefined } : marker
  const wanted = [`\u0000TWOLOOP_EXPERIMENT_ID=${experimentId}\u0000`, ...(runId === undefined ? [] : [`\u0000TWOLOOP_RUN_ID=${runId}\u0000`])]
  const out: Array<number> = []
  for (const info of allProcesses()) {
    if (info.pid === process.pid || info.startTicks < startedSince) continue
    try {
      const environ = `\u0000${fs.readFileSync(`/proc/${info.pid}/environ`, "latin1")}\u0000`
      if (wanted.every((entry) => environ.includes(entry))) out.push(info.pid)
    } catch {
      // not ours to read, or gone
    }
  }
  return out
}

/**
 * What file descriptors 1 and 2 of `pid` point at (`socket:[inode]` for Node's stdio pipes). Read right
 * after spawning, these are the experiment's ends of its output pipes.
 */
export const outputEndsOf = (pid: number): Set<string> => {
  const ends = new Set<string>()
  for (const fd of [1, 2]) {
    try {
      const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (/^(socket|pipe):\[\d+\]$/.test(link)) ends.add(link)
    } catch {
      // gone, or not readable
    }
  }
  return ends
}

/** Pids other than this process that hold one of these pipe or socket ends (see outputEndsOf). */
export const holdersOf = (ends: ReadonlySet<string>): Array<number> => {
  if (ends.size === 0 || !procAvailable()) return []
  const out: Array<number> = []
  for (const info of allProcesses()) {
    if (info.pid === process.pid) continue
    let fds: Array<string>
    try {
      fds = fs.readdirSync(`/proc/${info.pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (ends.has(fs.readlinkSync(`/proc/${info.pid}/fd/${fd}`))) {
          out.push(info.pid)
          break
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return out
}

/** Sends `signal` to each pid; returns how many were signalled. */
export const signalAll = (pids: Iterable<number>, signal: NodeJS.Signals): number => {
  let count = 0
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
      count += 1
    } catch {
      // already gone
    }
  }
  return count
}
