#!/usr/bin/env bash
# Runs a command (default: npm test) on a deliberately saturated CPU, to check that no test's verdict
# depends on how fast the machine is. Starts STRESS_PER_CORE busy processes per core (default 2): stress-ng
# from Debian when it is installed, else plain shell busy loops. The command runs under `nice -n
# STRESS_NICE` (default 10), so the busy processes get the CPU first. Whatever ends the script (the
# command finishing, Ctrl-C, SIGTERM), the busy processes are stopped: each runs in a process group of its
# own, killed by its id (never by name). The exit status is the command's.
#
#   scripts/stress-test.sh                                   # npm test on a saturated CPU
#   scripts/stress-test.sh npx vitest run --project unit     # any other command
#   STRESS_PER_CORE=4 STRESS_NICE=19 scripts/stress-test.sh  # harder
set -euo pipefail
cd "$(dirname "$0")/.."

per_core="${STRESS_PER_CORE:-2}"
niceness="${STRESS_NICE:-10}"
cores="$(nproc)"
workers=$((cores * per_core))
if [ "$#" -eq 0 ]; then set -- npm test; fi

groups=()
command_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$command_pid" ] && kill -0 "$command_pid" 2>/dev/null; then kill -TERM "$command_pid" 2>/dev/null || true; wait "$command_pid" 2>/dev/null || true; fi
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for group in "${groups[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null || true
  done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# With job control on, each background job gets a process group of its own (its pid is the group id).
set -m
if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$workers" --cpu-method int64 --quiet &
  groups+=("$!")
  how="stress-ng --cpu $workers"
else
  for _ in $(seq "$workers"); do
    sh -c 'while :; do :; done' &
    groups+=("$!")
  done
  how="$workers shell busy loops"
fi
set +m

echo "stress-test: $how on $cores cores; the command runs under nice -n $niceness: $*" >&2
started=$(date +%s)
# In the background (stdin kept) so that a signal to this script is handled at once, not after the command.
nice -n "$niceness" "$@" <&0 &
command_pid=$!
status=0
wait "$command_pid" || status=$?
command_pid=""
echo "stress-test: exit $status after $(( $(date +%s) - started )) s under load" >&2
exit "$status"
