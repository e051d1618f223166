/**
 * The everyday CLI through the real executable: output piped into a reader that stops early ends quietly;
 * the prompt library says where it lives and entries can be removed; doctor checks the target's command as
 * it will run — its own interpreter (through target.env.PATH or a venv path), whether that interpreter
 * imports what the target's Python files import (torch included), that the editable files exist — and
 * lists the tunables it finds.
 */
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { LibraryEntry } from "../../src/domain/LibraryEntry.ts"
import { entryId, renderEntryMarkdown } from "../../src/pipeline/library.ts"
import { twoloop } from "../support/cli.ts"
import { fixtureDir } from "../support/pipeline.ts"
import { pythonWith, skipWithout } from "../support/python.ts"
import { tempDir } from "../support/tmp.ts"

const root = path.resolve(import.meta.dirname, "../..")

describe.concurrent("the everyday CLI", () => {
  it("output piped into a reader that closes early ends quietly, with exit code 0", async () => {
    const dir = tempDir("twoloop-pipe-")
    fs.cpSync(fixtureDir("quadratic-target"), path.join(dir, "target"), { recursive: true })
    fs.writeFileSync(
      path.join(dir, "pipeline.config.json"),
      JSON.stringify({
        target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 5 },
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 4 } }],
      }),
    )
    const run = await twoloop(["run", "--quiet"], { cwd: dir, env: { TWOLOOP_HOME: tempDir() } })
    expect(run.exitCode, String(run.all)).toBe(0)
    // The reader is gone before twoloop writes its first line (like `| head -0`, or `| head -1` on a long listing).
    const child = execa(process.execPath, [path.join(root, "dist/bin/twoloop.js"), "status", "--events", "100"], { cwd: dir, reject: false, stdout: "pipe", stderr: "pipe" })
    child.stdout!.destroy()
    const result = await child
    expect(String(result.stderr)).toBe("")
    expect(result.exitCode).toBe(0)
  }, 300_000)

  it("the prompt library says where it is, and prompts rm removes an entry", async () => {
    const home = tempDir("twoloop-home-")
    const env = { TWOLOOP_HOME: home }
    const components = [["instructions", "Be careful."], ["directions", "1. tune LR"]] as const
    const entry: LibraryEntry = {
      id: entryId(components),
      project: "demo",
      target: "/t",
      metric: "loss",
      direction: "minimize",
      gain: 0.1,
      runId: null,
      lineage: [],
      model: "offline",
      offline: true,
      components,
      source: "test",
      createdAt: "2026-11-30T00:00:00.000Z",
    }
    const file = path.join(tempDir(), "entry.md")
    fs.writeFileSync(file, renderEntryMarkdown(entry))
    expect((await twoloop(["prompts", "import", file], { env })).exitCode).toBe(0)
    const listed = await twoloop(["prompts", "list"], { env })
    expect(String(listed.stdout).split("\n")[0]).toBe(`library: ${path.join(home, "library.db")}`)
    expect(String(listed.stdout)).toContain(`| ${entry.id} | demo |`)
    const removed = await twoloop(["prompts", "rm", entry.id.slice(0, 6)], { env })
    expect(removed.exitCode, String(removed.all)).toBe(0)
    expect(String(removed.stdout).trim()).toBe(`removed ${entry.id} (demo) from the library ${path.join(home, "library.db")}`)
    expect(String((await twoloop(["prompts", "list"], { env })).stdout)).toContain("is empty")
    const again = await twoloop(["prompts", "rm", entry.id], { env })
    expect(again.exitCode).toBe(1)
    expect(String(again.stderr).trim()).toMatch(new RegExp(`^twoloop: no prompt ${entry.id} in the library `))
  }, 300_000)

  it.skipIf(skipWithout("dataclasses", "the doctor target test"))("doctor checks the target's own interpreter, its imports and files, and lists the tunables", async () => {
    const python = pythonWith("dataclasses")!
    const dir = tempDir("twoloop-doctor-target-")
    fs.cpSync(fixtureDir("python-trainer"), path.join(dir, "target"), { recursive: true })
    // The target's interpreter is found through target.env.PATH: a python without site-packages (so no torch).
    const bin = path.join(dir, "env/bin")
    fs.mkdirSync(bin, { recursive: true })
    fs.writeFileSync(path.join(bin, "python3"), `#!/bin/sh\nexec ${python} -S "$@"\n`, { mode: 0o755 })
    fs.writeFileSync(path.join(dir, "target/torch_model.py"), "import torch\nfrom torch import nn\n")
    const config = (editable: Array<string>) =>
      JSON.stringify({
        target: {
          dir: "target",
          editable,
          readonly: ["torch_model.py"],
          command: "python3 train.py --max-steps 50 --batch-size 16 --seed $TWOLOOP_SEED",
          metric: { name: "test_loss", direction: "minimize", pattern: "test loss: (\\S+)" },
          timeBudgetSeconds: 30,
          env: { PATH: `${bin}:/usr/bin:/bin` },
        },
        executor: { kind: "local", gpus: "none" },
        stages: [{ kind: "code-search", name: "inner", budget: { experiments: 6 } }],
      })
    fs.writeFileSync(path.join(dir, "pipeline.config.json"), config(["train.py", "missing.py"]))
    const result = await twoloop(["doctor"], { cwd: dir, env: { TWOLOOP_HOME: tempDir(), PATH: process.env.PATH ?? "" } })
    const out = String(result.stdout)
    expect(result.exitCode).toBe(1)
    expect(out).toContain(`✗ pre-flight target.editable[1]: missing.py does not exist in ${path.join(dir, "target")}`)
    expect(out).toContain("! pre-flight batch_size (train.py:156, argparse) is set by target.command (--batch-size 16)")
    expect(out).toMatch(/✓ search {5}tunables in train\.py, missing\.py \(\d+\): .*learning_rate=0\.5, weight_decay=0\.01; set aside \d+: .*batch_size/)
    expect(out).toContain(`✓ python     the target's interpreter python3 → ${path.join(bin, "python3")}: Python 3`)
    expect(out).toContain(`✗ imports    python3 → ${path.join(bin, "python3")} cannot import torch (imported by torch_model.py)`)
    expect(out).not.toMatch(/^[✓!✗] torch /m)
    expect(String(result.stderr).trim()).toBe("twoloop: doctor: 2 checks failed (pre-flight, imports)")

    // With the editable files right and an interpreter that has torch (a venv-style path in the command), doctor passes.
    const torchPython = pythonWith("torch")
    if (!torchPython) return
    const venv = path.join(dir, "target/.venv/bin")
    fs.mkdirSync(venv, { recursive: true })
    fs.symlinkSync(torchPython, path.join(venv, "python"))
    fs.writeFileSync(path.join(dir, "pipeline.config.json"), config(["train.py"]).replace('"python3 train.py', '".venv/bin/python train.py'))
    const good = await twoloop(["doctor"], { cwd: dir, env: { TWOLOOP_HOME: tempDir(), PATH: process.env.PATH ?? "" } })
    expect(good.exitCode, String(good.all)).toBe(0)
    expect(String(good.stdout)).toMatch(/✓ imports {4}\.venv\/bin\/python → .* imports .*torch/)
    expect(String(good.stdout)).toMatch(/✓ torch {6}\.venv\/bin\/python → .*: torch \d/)
  }, 300_000)
})
