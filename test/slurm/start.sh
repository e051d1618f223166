#!/usr/bin/env bash
# Starts a single-node SLURM "cluster" on 127.0.0.1 for the SLURM executor's tests (Debian slurm-wlm +
# munge; needs root). Everything lives under $TWOLOOP_SLURM_DIR (default /tmp/twoloop-slurm): the config,
# state, spool, logs and pid files. Prints the SLURM_CONF path on its last line. Stop with stop.sh, which
# kills the daemons by the pids recorded here (never by name).
set -euo pipefail
dir="${TWOLOOP_SLURM_DIR:-/tmp/twoloop-slurm}"
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)"

for tool in munged slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null || { echo "start.sh: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
export PATH="$PATH:/usr/sbin"

mkdir -p "$dir"/{state,spool,log}
conf="$dir/slurm.conf"
cat > "$conf" <<CONF
ClusterName=twoloop-test
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MinJobAge=600
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf"

# munge: reuse a running daemon, else start one as the munge user with the package's key.
if ! munge -n </dev/null >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then mungekey --create >/dev/null; chown munge:munge /etc/munge/munge.key; fi
  # (as the munge user it can only write its pid file into a folder of its own; stop.sh reads it there)
  install -d -o munge -g munge "$dir/munge"
  if command -v runuser >/dev/null; then runuser -u munge -- munged --pid-file="$dir/munge/munged.pid"; else munged --force --pid-file="$dir/munge/munged.pid"; fi
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
alive "$dir/slurmctld.pid" || slurmctld -i
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
alive "$dir/slurmd.pid" || slurmd
for _ in $(seq 150); do
  state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
  case "$state" in idle|mix|alloc) break ;; esac
  sleep 0.2
done
case "$(sinfo -h -n "$host" -o %t 2>/dev/null || true)" in
  idle|mix|alloc) ;;
  *) echo "start.sh: the node did not come up (state '$(sinfo -h -o %t 2>&1)'); see $dir/log" >&2; exit 1 ;;
esac
echo "$conf"
