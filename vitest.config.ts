import { defineConfig } from "vitest/config"

/**
 * Two projects: `unit` (fast: run it while you work, well under two minutes) and `integration` (real
 * PyTorch pipelines, SLURM, a browser, kill-and-resume of the CLI). `npm test` runs both.
 *
 * No verdict depends on the machine's speed (scripts/stress-test.sh runs the suite on a saturated CPU), so
 * the timeouts are only there to stop a hung test: they are sized for a busy 2-core machine, several times
 * what a test takes on an idle one.
 */
export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 300_000,
    hookTimeout: 600_000,
    setupFiles: ["test/support/setup.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    projects: [
      // Unit tests mostly wait on real subprocesses (git, node, sqlite): two files at a time even on 2 cores.
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/integration/**"], maxWorkers: 2 } },
      // Integration tests time real runs, kill them and drive a browser: one file at a time.
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"], testTimeout: 1_200_000, maxWorkers: 1 } },
    ],
  },
})
