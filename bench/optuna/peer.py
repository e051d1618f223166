#!/usr/bin/env python3
"""The Optuna peer of the search-quality benchmark (a benchmark peer only: twoloop itself never needs Python).

Reads a JSON job on stdin: {"project", "command", "metric", "env", "apply": "env"|"edit", "file", "space",
"defaults", "sampler": "tpe"|"random", "seeds", "trials", "budget"}. For each seed it runs one study the way
a user would: the search space as they would write it, the script's defaults enqueued as the first trial,
every trial one full-budget run of the real target command (the seed fixed, as the script's own seed would
be), a crash or a NaN recorded as a failed trial. The trial's values reach the script in TARGET_PARAMS
(apply "env", which the synthetic harness reads) or as the script's own `const NAME = value` lines, rewritten
in `file` before the run (apply "edit"); the metric is the script's last `<metric>: value` line. Writes {"seeds": [{"seed", "trials": [{"params", "value"}]}]}
on stdout, trials in the order they ran (value null for a failed trial).
"""
import json
import math
import os
import re
import subprocess
import sys

import optuna


def suggest(trial, name, spec):
    if "choices" in spec:
        return trial.suggest_categorical(name, spec["choices"])
    if spec.get("int"):
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))


def in_range(spec, value):
    if "choices" in spec:
        return value in spec["choices"]
    return spec["low"] <= value <= spec["high"]


class Failed(Exception):
    pass


def set_constants(source, params):
    """The script with each `const NAME = value` line set to the trial's value, a trailing comment kept."""
    for name, value in params.items():
        pattern = re.compile(r"^(const " + re.escape(name) + r" = )[^/\n]*?(\s*//.*)?$", re.M)
        source, count = pattern.subn(lambda m: m.group(1) + json.dumps(value) + (m.group(2) or ""), source, count=1)
        if count != 1:
            raise SystemExit(f"peer: {name} is not a constant of the script")
    return source


def main():
    job = json.load(sys.stdin)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    metric = job.get("metric", "loss")
    apply = job.get("apply", "env")
    script = os.path.join(job["project"], job.get("file", "train.mjs"))
    original = open(script).read() if apply == "edit" else None
    out = []
    for seed in job["seeds"]:
        sampler = optuna.samplers.TPESampler(seed=seed) if job["sampler"] == "tpe" else optuna.samplers.RandomSampler(seed=seed)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.enqueue_trial({name: value for name, value in job["defaults"].items() if name in job["space"] and in_range(job["space"][name], value)})
        record = []

        def objective(trial):
            params = {name: suggest(trial, name, spec) for name, spec in job["space"].items()}
            env = dict(os.environ, **job.get("env", {}), TWOLOOP_SEED=str(seed), TWOLOOP_TIME_BUDGET=str(job["budget"]))
            if apply == "edit":
                with open(script, "w") as out:
                    out.write(set_constants(original, params))
            else:
                env["TARGET_PARAMS"] = json.dumps(params)
            result = subprocess.run(job["command"], shell=True, cwd=job["project"], env=env, capture_output=True, text=True)
            value = None
            for line in result.stdout.splitlines():
                if line.startswith(metric + ":"):
                    try:
                        value = float(line.split(":", 1)[1])
                    except ValueError:
                        value = None
            if result.returncode != 0 or value is None or not math.isfinite(value):
                record.append({"params": params, "value": None})
                raise Failed(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no metric")
            record.append({"params": params, "value": value})
            return value

        study.optimize(objective, n_trials=job["trials"], catch=(Failed,))
        out.append({"seed": seed, "trials": record})
    json.dump({"seeds": out}, sys.stdout)


if __name__ == "__main__":
    main()
