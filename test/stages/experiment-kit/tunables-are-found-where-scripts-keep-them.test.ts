import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { makeRng } from "../../../src/common/rng.ts"
import { applyChanges } from "../../../stages/experiment-kit/edits.ts"
import { renderAgentPrompt } from "../../../stages/experiment-kit/agentPrompt.ts"
import { moveKey, proposeOffline, rankProposals, replayMoves } from "../../../stages/experiment-kit/moves.ts"
import { ineffectiveChanges, inspectTunables, isMovable, type Tunable, tunableKinds } from "../../../stages/experiment-kit/tunables/index.ts"
import { tunableFindings } from "../../../stages/experiment-kit/tunables/target.ts"
import { tempDir } from "../../support/tmp.ts"

const byName = (list: ReadonlyArray<Tunable>, name: string) => {
  const found = list.find((t) => t.name === name)
  if (!found) throw new Error(`no tunable ${name} in ${list.map((t) => t.name).join(", ")}`)
  return found
}

/** Sets a tunable through its own change and returns the new file content. */
const set = (files: ReadonlyMap<string, string>, tunable: Tunable, next: number | boolean | string) => {
  const applied = applyChanges(files, [tunable.change(tunable.format(next))])
  if (!applied.ok) throw new Error(applied.reason)
  return applied.files.get(tunable.file)!
}

const script = `import argparse
from dataclasses import dataclass, field

@dataclass
class ModelConfig:
    """Docstring with n_layer: int = 99 inside it."""
    block_size: int = None  # set later
    vocab_size: int = None
    n_layer: int = 4
    n_embd: int = 64
    act: str = "gelu"  # one of: gelu, relu
    dropout: float = field(default=0.1)
    tie: bool = True

    def size(self):
        local = 3
        return self.n_layer * local

class TrainingArgs:
    warmup = 100

class Helper:
    steps = 5

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--learning-rate', '-l', type=float, default=5e-4, help="learning rate")
    parser.add_argument("--batch-size", "-b", type=int,
                        default=32, help="batch size, # not a comment")
    parser.add_argument("--type", type=str, default="transformer", choices=["bigram", "mlp", "transformer"])
    parser.add_argument("--n-head", type=int, default=4, choices=[1, 2, 4, 8])
    parser.add_argument("--scale", type=float, default=1, help="init scale")
    parser.add_argument("--decay", type=float, default="1e-2")
    parser.add_argument("--optim", default="adamw", help="optimizer, one of: adamw, sgd")
    parser.add_argument("--compile", action="store_true", default=False)
    parser.add_argument("--sample-only", action="store_true")
    parser.add_argument("--layers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("input", nargs="?", default="names.txt")
    parser.add_argument("--momentum", dest="beta1", type=float, default=0.9)
    parser.add_argument("--top-k", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=3407)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.set_defaults(clip=0.5)
    args = parser.parse_args()
    config = ModelConfig(vocab_size=27, block_size=16, n_layer=args.n_layer)
`

describe("argparse defaults", () => {
  const files = new Map([["train.py", script]])
  const { tunables, setAside } = inspectTunables(files)

  it("reads dests, types, choices and help alternatives, and skips what is not a literal default", () => {
    const argparse = tunables.filter((t) => t.source === "argparse").map((t) => [t.name, t.value.kind, t.value.text])
    expect(argparse).toEqual([
      ["learning_rate", "number", "5e-4"],
      ["batch_size", "number", "32"],
      ["type", "string", '"transformer"'],
      ["n_head", "string", "4"],
      ["scale", "number", "1"],
      ["decay", "number", "1e-2"],
      ["optim", "string", '"adamw"'],
      ["compile", "boolean", "False"],
      ["beta1", "number", "0.9"],
    ])
    expect(byName(tunables, "type").alternatives).toEqual(["bigram", "mlp"])
    expect(byName(tunables, "n_head").alternatives).toEqual(["1", "2", "8"])
    expect(byName(tunables, "optim").alternatives).toEqual(["sgd"])
    expect(byName(tunables, "learning_rate").flags).toEqual(["--learning-rate", "-l"])
    expect(byName(tunables, "batch_size").line).toBe(29)
  })

  it("respects type=: a float default written as 1 moves to fractions, ints stay ints, quoted numbers stay quoted", () => {
    const scale = byName(tunables, "scale")
    expect(scale.value.kind === "number" && scale.value.integer).toBe(false)
    expect(set(files, scale, 0.5)).toContain("default=0.5, help=\"init scale\"")
    const batch = byName(tunables, "batch_size")
    expect(batch.value.kind === "number" && batch.value.integer).toBe(true)
    expect(set(files, batch, 64)).toContain("                        default=64, help=")
    const decay = byName(tunables, "decay")
    expect(set(files, decay, 0.02)).toContain('default="2e-2"')
    expect(set(files, byName(tunables, "n_head"), "8")).toContain("default=8, choices=[1, 2, 4, 8]")
    expect(set(files, byName(tunables, "type"), "mlp")).toContain('default="mlp", choices=')
  })

  it("sets aside seeds, -1 sentinels and what set_defaults overrides", () => {
    const reasons = Object.fromEntries(setAside.map((s) => [s.tunable.name, s.reason]))
    expect(reasons.seed).toMatch(/harness/)
    expect(reasons.top_k).toMatch(/sentinel/)
    expect(reasons.clip).toMatch(/set_defaults\(clip=\.\.\.\) at line 43/)
    expect(setAside.find((s) => s.tunable.name === "clip")!.overridden).toBe(true)
    expect(setAside.find((s) => s.tunable.name === "seed")!.overridden).toBe(false)
  })
})

describe("config-class fields", () => {
  const files = new Map([["train.py", script]])
  const { tunables, setAside } = inspectTunables(files)

  it("reads literal defaults of dataclass and config-named classes, not of methods, docstrings or other classes", () => {
    expect(tunables.filter((t) => t.source === "config class").map((t) => [t.name, t.value.text])).toEqual([
      ["ModelConfig.n_embd", "64"],
      ["ModelConfig.act", '"gelu"'],
      ["ModelConfig.dropout", "0.1"],
      ["ModelConfig.tie", "True"],
      ["TrainingArgs.warmup", "100"],
    ])
    expect(byName(tunables, "ModelConfig.act").alternatives).toEqual(["relu"])
    expect(set(files, byName(tunables, "ModelConfig.dropout"), 0.2)).toContain("    dropout: float = field(default=0.2)")
    expect(set(files, byName(tunables, "ModelConfig.tie"), false)).toContain("    tie: bool = False")
  })

  it("sets aside a field that a call of the class sets", () => {
    const layer = setAside.find((s) => s.tunable.name === "ModelConfig.n_layer")!
    expect(layer.overridden).toBe(true)
    expect(layer.reason).toMatch(/ModelConfig\(n_layer=\.\.\.\) at train\.py line 45 overrides the default/)
  })

  it("treats positional arguments and **kwargs as setting fields", () => {
    const source = `from dataclasses import dataclass\n@dataclass\nclass Cfg:\n    a: int = 1\n    b: int = 2\n    c: float = 0.5\n\nx = Cfg(10)\n`
    expect(inspectTunables(new Map([["m.py", source]])).tunables.map((t) => t.name)).toEqual(["Cfg.b", "Cfg.c"])
    const spread = `${source}y = Cfg(**overrides)\n`
    expect(inspectTunables(new Map([["m.py", spread]])).tunables).toEqual([])
  })
})

describe("YAML and JSON config files", () => {
  const yaml = `# training settings
model:
  n_layer: 4   # depth
  act: gelu  # one of: gelu, relu
optim:
  lr: 1e-3
  name: "adamw"
  betas: [0.9, 0.95]
decoder:
  n_layer: 4   # depth
flag: true
path: data/names.txt
weird key: 3
nothing: null
`

  it("finds numeric, boolean and string leaves by key path, with alternatives from comments", () => {
    const { tunables } = inspectTunables(new Map([["config.yaml", yaml]]))
    expect(tunables.map((t) => [t.name, t.value.kind, t.value.text])).toEqual([
      ["model.n_layer", "number", "4"],
      ["model.act", "string", "gelu"],
      ["optim.lr", "number", "1e-3"],
      ["optim.name", "string", '"adamw"'],
      ["optim.betas.0", "number", "0.9"],
      ["optim.betas.1", "number", "0.95"],
      ["decoder.n_layer", "number", "4"],
      ["flag", "boolean", "true"],
    ])
    expect(byName(tunables, "model.act").alternatives).toEqual(["relu"])
  })

  it("writes a new value with a minimal replace that is unique in the file and keeps comments", () => {
    const files = new Map([["config.yaml", yaml]])
    const { tunables } = inspectTunables(files)
    const decoder = byName(tunables, "decoder.n_layer")
    const change = decoder.change(decoder.format(8))
    expect(change.kind === "replace" && change.search).toBe("decoder:\n  n_layer: 4   # depth")
    const after = set(files, decoder, 8)
    expect(after).toBe(yaml.replace("decoder:\n  n_layer: 4", "decoder:\n  n_layer: 8"))
    expect(set(files, byName(tunables, "model.act"), "relu")).toContain("  act: relu  # one of: gelu, relu")
    expect(set(files, byName(tunables, "optim.lr"), 0.002)).toContain("  lr: 2e-3\n")
    expect(set(files, byName(tunables, "flag"), false)).toContain("flag: false\n")
  })

  it("reads JSON that JSON.parse accepts, and nothing from JSON that it refuses", () => {
    const json = `{\n  "optimizer": {"lr": 0.001, "name": "adam"},\n  "layers": 4,\n  "use_bias": false\n}\n`
    const files = new Map([["config.json", json]])
    const { tunables } = inspectTunables(files)
    expect(tunables.map((t) => t.name)).toEqual(["optimizer.lr", "optimizer.name", "layers", "use_bias"])
    const after = set(files, byName(tunables, "optimizer.lr"), 0.002)
    expect(JSON.parse(after)).toEqual({ optimizer: { lr: 0.002, name: "adam" }, layers: 4, use_bias: false })
    expect(inspectTunables(new Map([["config.json", "{ lr: 0.1, }"]])).tunables).toEqual([])
  })

  it("qualifies a name found in two files by its file", () => {
    const files = new Map([
      ["a.yaml", "lr: 0.1\n"],
      ["b.json", '{"lr": 0.2}'],
    ])
    expect(inspectTunables(files).tunables.map((t) => t.name)).toEqual(["a.yaml:lr", "b.json:lr"])
  })
})

describe("the command's flags", () => {
  const files = new Map([["train.py", script]])
  const fixed = (command: string, scripts?: ReadonlyMap<string, string>) =>
    inspectTunables(files, { command, ...(scripts ? { scripts } : {}) })
      .setAside.filter((s) => s.reason.startsWith("the command sets it"))
      .map((s) => [s.tunable.name, s.reason])

  it("sets aside what a flag of the file's own command line sets, in every spelling argparse accepts", () => {
    expect(fixed("python train.py --batch-size 32 --seed $TWOLOOP_SEED")).toEqual([["batch_size", "the command sets it (--batch-size 32)"]])
    expect(fixed("python train.py --learning-rate=1e-3 -b64")).toEqual([
      ["learning_rate", "the command sets it (--learning-rate=1e-3)"],
      ["batch_size", "the command sets it (-b64)"],
    ])
    expect(fixed("python train.py --learn 0.1")).toEqual([["learning_rate", "the command sets it (--learn 0.1)"]])
    expect(fixed("python -m train --compile")).toEqual([["compile", "the command sets it (--compile)"]])
  })

  it("does not count flags of another program in the command", () => {
    expect(fixed("python prepare.py --batch-size 8 && python train.py --scale 2")).toEqual([["scale", "the command sets it (--scale 2)"]])
    expect(fixed("torchrun --nproc-per-node 1 train.py")).toEqual([])
  })

  it("reads the shell script the command runs", () => {
    expect(fixed("bash run.sh", new Map([["run.sh", "#!/bin/sh\nset -e\npython train.py \\\n  --type mlp\n"]]))).toEqual([["type", "the command sets it (--type mlp)"]])
  })

  it("sets aside YAML leaves given as key=value overrides", () => {
    const yamlFiles = new Map([["config.yaml", "optim:\n  lr: 0.1\n  batch_size: 32\n"]])
    const inspection = inspectTunables(yamlFiles, { command: "python train.py --config config.yaml optim.batch_size=16" })
    expect(inspection.tunables.map((t) => t.name)).toEqual(["optim.lr"])
    expect(inspection.setAside[0]).toMatchObject({ reason: "the command sets it (optim.batch_size=16)", overridden: true })
  })
})

describe("edits that cannot take effect", () => {
  const files = new Map([["train.py", script]])
  const context = { command: "python train.py --batch-size 32" }

  it("are recognised when they only change overridden tunables", () => {
    const { setAside } = inspectTunables(files, context)
    const batch = setAside.find((s) => s.tunable.name === "batch_size")!.tunable
    const layer = setAside.find((s) => s.tunable.name === "ModelConfig.n_layer")!.tunable
    const after = applyChanges(files, [batch.change("64"), layer.change("8")])
    expect(after.ok).toBe(true)
    expect(ineffectiveChanges(files, (after as { files: ReadonlyMap<string, string> }).files, context)!.map((s) => s.tunable.name)).toEqual(["ModelConfig.n_layer", "batch_size"])
  })

  it("are not flagged when they change anything else too", () => {
    const { setAside, tunables } = inspectTunables(files, context)
    const batch = setAside.find((s) => s.tunable.name === "batch_size")!.tunable
    const lr = byName(tunables, "learning_rate")
    const both = applyChanges(files, [batch.change("64"), lr.change("1e-3")])
    expect(ineffectiveChanges(files, (both as { files: ReadonlyMap<string, string> }).files, context)).toBeUndefined()
    const code = applyChanges(files, [{ path: "train.py", kind: "replace", search: "default=32", replace: "default=64" }, { path: "train.py", kind: "replace", search: "local = 3", replace: "local = 4" }])
    expect(ineffectiveChanges(files, (code as { files: ReadonlyMap<string, string> }).files, context)).toBeUndefined()
  })
})

describe("consumers", () => {
  const files = new Map([["train.py", script]])
  const context = { command: "python train.py --batch-size 32 --learning-rate 1e-3" }

  it("the move engine moves argparse, config-class and YAML tunables but never one the command sets", () => {
    const moved = new Set<string>()
    const history: Array<Parameters<typeof proposeOffline>[0]["history"][number]> = []
    for (let i = 0; i < 60; i++) {
      const proposal = proposeOffline({ files, directions: [], history, pending: [], rng: makeRng(i), context })
      if (!proposal) break
      for (const change of proposal.move.changes) moved.add(change.name)
      history.push({ ...proposal.move, delta: -0.01, kept: false })
    }
    expect(moved.has("batch_size")).toBe(false)
    expect(moved.has("learning_rate")).toBe(false)
    for (const name of ["type", "n_head", "scale", "decay", "ModelConfig.n_embd", "ModelConfig.act", "ModelConfig.tie", "TrainingArgs.warmup"]) expect(moved, name).toContain(name)
    const all = rankProposals({ files, directions: [], history: [], pending: [], rng: makeRng(1), context })
    expect(all.every((p) => applyChanges(files, p.edit.changes).ok)).toBe(true)
  })

  it("replays argparse moves from stored edits at the same point the engine ranks them", () => {
    const proposal = proposeOffline({ files, directions: [], history: [], pending: [], rng: makeRng(3), context })!
    const { history } = replayMoves([{ purpose: "candidate", status: "discard", baseCommit: "base", resultCommit: null, edit: proposal.edit, improvement: -0.1 }], "base", files)
    expect(history).toEqual([{ ...proposal.move, delta: -0.1, kept: false }])
    const next = proposeOffline({ files, directions: [], history, pending: [], rng: makeRng(3), context })!
    expect(moveKey(next.move.changes)).not.toBe(moveKey(proposal.move.changes))
  })

  it("movable means the offline engine has a move for it", () => {
    const { tunables } = inspectTunables(new Map([["c.yaml", "a: 0.0\nb: 0\nc: word\nd: other  # one of: other, thing\ne: true\n"]]))
    expect(tunables.filter(isMovable).map((t) => t.name)).toEqual(["a", "b", "d", "e"])
  })

  it("the agent's prompt lists the tunables and what it must not edit", () => {
    const prompt = renderAgentPrompt({
      instructions: "improve it",
      directions: [],
      metric: { name: "loss", direction: "minimize" },
      incumbent: { metric: 1, runs: 2, commit: "abcdef0123" },
      noiseSigma: 0.01,
      gate: 0.02,
      timeBudgetSeconds: 10,
      files,
      readonlyFiles: [],
      tunables: inspectTunables(files, context),
      recent: [],
      inFlight: [],
    })
    expect(prompt).toContain("# Tunables")
    expect(prompt).toMatch(/- type = "transformer" \(train\.py:\d+, argparse --type; alternatives: bigram, mlp\)/)
    expect(prompt).toMatch(/- batch_size \(train\.py:29\): the command sets it \(--batch-size 32\)/)
    expect(prompt).toMatch(/- ModelConfig\.n_layer \(train\.py:9\): ModelConfig\(n_layer=\.\.\.\)/)
  })
})

describe("what a stage is told before it runs", () => {
  it("warns about what the command sets, and refuses offline when that leaves nothing to move", () => {
    const dir = tempDir("twoloop-tunables-")
    fs.writeFileSync(path.join(dir, "train.py"), 'import argparse\np = argparse.ArgumentParser()\np.add_argument("--lr", type=float, default=0.01)\np.add_argument("--name", default="run")\n')
    const target = { dir, editable: ["train.py"] as [string], command: "python train.py --lr 0.1" }
    const findings = tunableFindings(target, true)
    expect(findings).toEqual([
      { level: "warning", message: "lr (train.py:3, argparse) is set by target.command (--lr 0.1); twoloop does not edit it. Remove the flag from the command to let it be tuned" },
      {
        level: "error",
        message: `target.editable: nothing to tune offline in train.py: looked for ${tunableKinds}; found only values it cannot move (name="run": strings need alternatives, e.g. a "# one of: a, b" comment or choices=); set aside: lr (the command sets it (--lr 0.1)). Add one, or set model to an LLM so an agent edits the code`,
      },
    ])
    // An LLM agent can still edit the code: no error, a note listing what was found.
    expect(tunableFindings(target, false).map((f) => f.level)).toEqual(["warning", "note"])
  })
})
