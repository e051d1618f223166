import { defineConfig } from "vitest/config"

/**
 * Two projects: `unit` (fast: run it while you work, well under two minutes) and `integration` (real
 * PyTorch pipelines, SLURM, a browser, kill-and-resume of the CLI). `npm test` runs both.
 */
export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    setupFiles: ["test/support/setup.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    projects: [
      // Unit tests mostly wait on real subprocesses (git, node, sqlite): two files at a time even on 2 cores.
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/integration/**"], maxWorkers: 2 } },
      // Integration tests time real runs, kill them and drive a browser: one file at a time.
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"], testTimeout: 600_000, maxWorkers: 1 } },
    ],
  },
})
