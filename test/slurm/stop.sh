#!/usr/bin/env bash
# Stops what start.sh started, by the pids in its pid files.
set -uo pipefail
dir="${TWOLOOP_SLURM_DIR:-/tmp/twoloop-slurm}"
for file in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -s "$file" ] || continue
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
done
