/**
 * Times the dashboard's reads (src/dashboard/queries.ts) on a store file, through the read-only handle the
 * dashboard opens. The queries cache a run's figures until the store changes (a finished run's until its
 * status changes), so "cold" builds a fresh query object for every repetition (a first request after a
 * write) and "cached" repeats a call.
 */
import { makeQueries } from "../../src/dashboard/queries.ts"
import { openReadOnly } from "../../src/dashboard/openDashboard.ts"

const time = (repeats: number, f: () => unknown) => {
  const times: Array<number> = []
  for (let i = 0; i < repeats; i++) {
    const started = performance.now()
    f()
    times.push(performance.now() - started)
  }
  return Math.min(...times)
}

/** Query name → best of `repeats` ms (the least disturbed run on a noisy machine). */
export const timeDashboardQueries = (file: string, runId: string, experimentId: number, repeats: number): Record<string, number> => {
  const db = openReadOnly(file)
  try {
    const fresh = () => makeQueries(db, file)
    const warm = fresh()
    warm.runs()
    return {
      "dashboard: runs list (cold)": time(Math.min(repeats, 3), () => fresh().runs()),
      "dashboard: runs list (cached)": time(repeats, () => warm.runs()),
      "dashboard: run page (cold)": time(repeats, () => fresh().run(runId)),
      "dashboard: experiments page (cold)": time(repeats, () => fresh().experiments(runId, {})),
      "dashboard: experiment detail": time(repeats, () => warm.experiment(experimentId)),
      "dashboard: outer view (cold)": time(repeats, () => fresh().outer(runId)),
    }
  } finally {
    db.close()
  }
}
