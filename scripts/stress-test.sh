#!/usr/bin/env bash
# Runs a command (default: npm test) on a deliberately saturated CPU, to check that no test's verdict
# depends on how fast the machine is. Starts STRESS_PER_CORE busy processes per core (default 2): stress-ng
# from Debian when it is installed, else plain shell busy loops. Everything runs under `nice -n
# STRESS_NICE` (default 10), so the run yields to the machine's other users; the command competes with the
# busy processes, and STRESS_COMMAND_NICE (default 0) puts it that much further below them. Whatever ends
# the script (the command finishing, Ctrl-C, SIGTERM), the busy processes are stopped, and so is what is
# left of the command: each runs in a process group of its own, killed by its id (never by name). The
# exit status is the command's.
#
#   scripts/stress-test.sh                                   # npm test on a saturated CPU
#   scripts/stress-test.sh npx vitest run --project unit     # any other command
#   STRESS_PER_CORE=4 scripts/stress-test.sh                 # harder
#   STRESS_COMMAND_NICE=10 scripts/stress-test.sh            # much harder: the command gets ~5 % of a core
set -euo pipefail
cd "$(dirname "$0")/.."

per_core="${STRESS_PER_CORE:-2}"
niceness="${STRESS_NICE:-10}"
command_niceness=$((niceness + ${STRESS_COMMAND_NICE:-0}))
cores="$(nproc)"
workers=$((cores * per_core))
if [ "$#" -eq 0 ]; then set -- npm test; fi

groups=()
command_group=""
# TERM to each process group, then KILL to what is still there after `seconds`.
stop_groups() {
  local seconds="$1"; shift
  for group in "$@"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for group in "$@"; do
    for _ in $(seq $((seconds * 10))); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null || true
  done
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$command_group" ]; then stop_groups 10 "$command_group"; fi
  stop_groups 5 "${groups[@]}"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# With job control on, each background job gets a process group of its own (its pid is the group id).
set -m
if command -v stress-ng >/dev/null; then
  nice -n "$niceness" stress-ng --cpu "$workers" --cpu-method int64 --quiet 2>/dev/null &
  groups+=("$!")
  how="stress-ng --cpu $workers"
else
  for _ in $(seq "$workers"); do
    nice -n "$niceness" sh -c 'while :; do :; done' &
    groups+=("$!")
  done
  how="$workers shell busy loops"
fi
echo "stress-test: $how on $cores cores at nice $niceness; the command at nice $command_niceness: $*" >&2
started=$(date +%s)
# In the background (stdin kept), so that a signal to this script is handled at once, not after the
# command; in a group of its own, so that stopping it stops its children too.
nice -n "$command_niceness" "$@" <&0 &
command_pid=$!
command_group=$command_pid
set +m
status=0
wait "$command_pid" || status=$?
# (what the command left running in its group is stopped on exit, with the busy processes)
echo "stress-test: exit $status after $(( $(date +%s) - started )) s under load" >&2
exit "$status"
