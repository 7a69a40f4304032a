#!/usr/bin/env bash
# The cluster path on a REAL Slurm (no mock): installs Debian's slurm-wlm and munge, writes a one-node
# slurm.conf into a private folder, starts munged, slurmctld and slurmd, and then
#   1. submits the demo config through launch/submit with 2 tasks: the job ends COMPLETED, and its final
#      weights equal a direct `mpirun -n 2` run of the same config (h5diff, exact);
#   2. submits a longer run, sends `scancel --signal=USR1 --batch` mid-run: the job checkpoints, requeues
#      itself (scontrol show job: Restarts >= 1), resumes (not from scratch), ends COMPLETED, and its
#      weights equal an uninterrupted run's;
#      (once with srun --mpi=pmix, once with mpirun as the batch script's launcher);
#   3. checks launch/submit's own errors (missing config, invalid config, no sbatch) and --dry-run;
#   4. refuses srun without --mpi=pmix (every task rank 0 of 1); the other launch scripts parse;
#   5. runs the cv array (one task per fold + afterok merge job) with --partition and an sbatch argument
#      after --, which reach the merge job: it ends COMPLETED, and its merged predictions.csv equals a
#      one-job `mpirun -n 2 mmtrain cv` run's;
#   6. submits a held job (-- --hold), edits the original YAML (train.epochs), releases it: the job runs the
#      snapshot launch/submit wrote, not the edited file.
# It stops exactly the daemons it started, by PID. It must run as root (CI does), or it fails; it never
# passes silently. Usage: bash launch/slurm-test.sh   (MMTRAIN_BIN=path to test another binary;
# SLURMCTLD_PORT and SLURMD_PORT, default 6817 and 6818, where another Slurm on this machine uses those)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0 failed=0
pass() { echo "slurm: ok   $*"; passed=$((passed + 1)); }
fail() { echo "slurm: FAIL $*"; failed=$((failed + 1)); }
die() { echo "slurm: FAIL $*"; echo "slurm: $passed passed, $((failed + 1)) failed"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts slurmctld/slurmd as SlurmUser=root)"

# --- packages --------------------------------------------------------------------------------------------
need=()
for p in slurm-wlm munge hdf5-tools; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "slurm: installing ${need[*]}"
  apt-get update -qq || die "apt-get update failed: cannot install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "cannot install ${need[*]} (apt-get install failed): the Slurm tests did not run"
fi
for c in munged slurmctld slurmd sbatch scontrol scancel h5diff; do
  command -v "$c" >/dev/null || die "$c not found after installing slurm-wlm, munge and hdf5-tools"
done

bin=${MMTRAIN_BIN:-$root/.build/debug/mmtrain}
[ -x "$bin" ] || die "$bin not found: build first (swift build)"
. launch/mpi-env.sh

# --- a private one-node cluster --------------------------------------------------------------------------
W=$(mktemp -d /tmp/mmtrain-slurm.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/state" "$W/spool" "$W/munge" "$W/work"
chmod 711 "$W/munge"
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
export SLURM_CONF="$W/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Written by launch/slurm-test.sh: one node, root everywhere, no accounting daemon.
ClusterName=mmtrain-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10,socket=$W/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=3600
JobRequeue=1
ReturnToService=2
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF

pids=()
stop_daemons() {
  # Exactly the daemons this script started, by PID, newest first.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    local p=${pids[$i]}
    kill -0 "$p" 2>/dev/null || continue
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  pids=()
}
trap 'stop_daemons' EXIT

dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
munged -F -f --socket="$W/munge/munge.socket" --key-file="$W/munge/munge.key" --pid-file="$W/munge/munged.pid" \
  --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed" >"$W/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$W/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$W/munge/munge.socket" ] || die "munged did not start (log: $W/munge/munged.log)"
slurmctld -D -i -f "$SLURM_CONF" >"$W/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$W/slurmd.out" 2>&1 &
pids+=($!)
up=""
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then up=yes; break; fi
  sleep 0.2
done
[ -n "$up" ] || { tail -5 "$W/slurmctld.log" "$W/slurmd.log"; die "slurmctld/slurmd did not come up (logs in $W)"; }
echo "slurm: cluster up on $host ($cpus CPUs), conf $SLURM_CONF, daemons ${pids[*]}"

# --- helpers ---------------------------------------------------------------------------------------------
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# Waits until the job reaches a final state (or the timeout); prints the state.
wait_job() {
  local id=$1 timeout=${2:-300} state=""
  for _ in $(seq $((timeout * 2))); do
    state=$(job_field "$id" JobState)
    case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;; esac
    sleep 0.5
  done
  echo "$state"
}

# The job id that launch/submit printed ("submitted: job 12").
submitted_id() { sed -n 's/^submitted: job \([0-9_]*\).*/\1/p' "$1" | head -1; }

# Equal weights and optimiser state, bit for bit.
same_weights() { h5diff -q "$1" "$2" /params /params && h5diff -q "$1" "$2" /optimizer /optimizer; }

cd "$W/work"
"$bin" synth --out data.h5 --samples 400 --steps 6 --text-features 8 --audio-features 8 --vision-features 2 >/dev/null \
  || die "mmtrain synth failed"
config() {  # config NAME RUN_DIR EPOCHS [extra yaml lines]
  cat >"$1" <<EOF
data:
  path: $W/work/data.h5
  steps: 6
model:
  hidden: 8
train:
  epochs: $3
  batch_size: 16
  optimizer: sgd
  lr: 0.05
  seed: 3
checkpoint:
  dir: $2
${4:-}
EOF
}

# --- 1. the demo config through launch/submit, 2 tasks --------------------------------------------------
config demo.yaml "$W/work/runs/demo" 3
config direct.yaml "$W/work/runs/direct" 3
MMTRAIN_BIN=$bin "$root/launch/submit" demo.yaml --tasks 2 --time 00:10:00 >submit1.out 2>&1
cat submit1.out
id=$(submitted_id submit1.out)
if [ -z "$id" ]; then
  fail "launch/submit printed no job id"
else
  state=$(wait_job "$id" 300)
  mpirun -n 2 --oversubscribe "$bin" train --config direct.yaml --progress lines >direct.out 2>&1
  if [ "$state" != COMPLETED ]; then
    fail "demo job $id ended $state, not COMPLETED"; tail -20 runs/demo/slurm-*.out
  elif ! same_weights runs/demo/latest runs/direct/latest; then
    fail "demo job $id: weights differ from mpirun -n 2"
  else
    pass "demo job $id via launch/submit --tasks 2: COMPLETED, weights equal mpirun -n 2 ($(grep -c '^epoch ' runs/demo/slurm-*.out) epoch lines)"
  fi
fi

# --- 2. preemption: USR1 to the batch shell mid-run, requeue, resume, COMPLETED --------------------------
# Once with srun --mpi=pmix (the template's choice here), once with mpirun inside the batch script.
config straight.yaml "$W/work/runs/straight" 400
mpirun -n 2 --oversubscribe "$bin" train --config straight.yaml --progress lines >straight.out 2>&1
preempt() {  # preempt NAME LAUNCHER
  local name=$1 launcher=$2 id log t0 resumed state restarts epochs_second rt
  config "$name.yaml" "$W/work/runs/$name" 400
  MMTRAIN_LAUNCHER=$launcher MMTRAIN_BIN=$bin "$root/launch/submit" "$name.yaml" --tasks 2 --time 00:20:00 >"submit-$name.out" 2>&1
  id=$(submitted_id "submit-$name.out")
  [ -n "$id" ] || { fail "launch/submit ($name) printed no job id: $(cat "submit-$name.out")"; return; }
  log=runs/$name/slurm-$id.out
  for _ in $(seq 600); do grep -q '^epoch 3/' "$log" 2>/dev/null && break; sleep 0.2; done
  t0=$(date +%s.%N)
  scancel --signal=USR1 --batch "$id"
  # Resumed = the requeued job's first epoch line (after its "restart 1" start line).
  resumed=""
  for _ in $(seq 3000); do
    if sed -n '/^mmtrain-job: start .* restart 1 /,$p' "$log" 2>/dev/null | grep -q '^epoch '; then resumed=$(date +%s.%N); break; fi
    sleep 0.1
  done
  state=$(wait_job "$id" 400)
  restarts=$(job_field "$id" Restarts)
  epochs_second=$(sed -n '/^mmtrain-job: start .* restart 1 /,$p' "$log" | grep -c '^epoch ')
  if [ "$state" != COMPLETED ]; then
    fail "$launcher: preempted job $id ended $state, not COMPLETED"; tail -30 "$log"
  elif [ "${restarts:-0}" -lt 1 ]; then
    fail "$launcher: preempted job $id: Restarts=$restarts, expected >= 1 (not requeued)"; tail -30 "$log"
  elif ! grep -q 'stopped by a signal' "$log" || ! grep -q "^mmtrain-job: ${launcher}" "$log"; then
    fail "$launcher: preempted job $id: no 'stopped by a signal', or not started with $launcher, in $log"; tail -30 "$log"
  elif [ "$epochs_second" -ge 400 ]; then
    fail "$launcher: preempted job $id: the requeued run trained $epochs_second epochs: it started over instead of resuming"
  elif ! same_weights "runs/$name/latest" runs/straight/latest; then
    fail "$launcher: preempted job $id: weights differ from an uninterrupted run"
  else
    rt=$(awk -v a="$t0" -v b="$resumed" 'BEGIN {printf "%.1f", b - a}')
    pass "preemption ($launcher): job $id requeued (Restarts=$restarts), resumed ($epochs_second of 400 epochs after the restart), COMPLETED, weights equal an uninterrupted run; signal -> resumed training ${rt}s"
  fi
}
preempt long srun
preempt long-mpirun mpirun

# --- 3. launch/submit's errors and --dry-run -------------------------------------------------------------
out=$(MMTRAIN_BIN=$bin "$root/launch/submit" missing.yaml 2>&1); rc=$?
if [ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'missing.yaml'; then
  pass "missing config: one line, exit $rc: $out"
else fail "missing config: exit $rc, output: $out"; fi
printf 'data:\n  path: x.h5\ntrain:\n  epochs: ten\n' >bad.yaml
out=$(MMTRAIN_BIN=$bin "$root/launch/submit" bad.yaml 2>&1); rc=$?
if [ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'train.epochs'; then
  pass "invalid config: one line, exit $rc: $out"
else fail "invalid config: exit $rc, output: $out"; fi
mkdir -p nosbatch  # a PATH with every tool but sbatch
for f in /usr/bin/* /bin/*; do [ "${f##*/}" = sbatch ] || ln -sf "$f" nosbatch/ 2>/dev/null; done
out=$(PATH=$PWD/nosbatch MMTRAIN_BIN=$bin bash "$root/launch/submit" demo.yaml 2>&1); rc=$?
if [ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'sbatch'; then
  pass "no sbatch: one line, exit $rc: $out"
else fail "no sbatch: exit $rc, output: $out"; fi
before=$(squeue -h | wc -l)
out=$(MMTRAIN_BIN=$bin "$root/launch/submit" demo.yaml --tasks 2 --dry-run 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '^#SBATCH --ntasks=2' && echo "$out" | grep -q -- '--signal=B:USR1@120' \
  && [ "$(squeue -h | wc -l)" -eq "$before" ]; then
  pass "--dry-run prints the batch script and submits nothing"
else fail "--dry-run: exit $rc, output: $out"; fi

# --- 4. srun without --mpi=pmix: every task would be rank 0 of 1; mmtrain refuses, once ------------------
config single.yaml "$W/work/runs/single" 1
out=$(srun -n 2 --mpi=none "$bin" train --config single.yaml 2>&1); rc=$?
if [ $rc -ne 0 ] && [ "$(echo "$out" | grep -c 'mmtrain: error:')" -eq 1 ] && echo "$out" | grep -q 'srun --mpi=pmix' && [ ! -e runs/single/latest ]; then
  pass "srun --mpi=none -n 2 refused (exit $rc): $(echo "$out" | grep 'mmtrain: error:' | cut -c1-150)..."
else fail "srun --mpi=none -n 2: exit $rc, output: $out"; fi

# --- 5. the other launch scripts parse ---------------------------------------------------------------
if bash -n "$root/launch/pbs.sh" && bash -n "$root/launch/local.sh" && bash -n "$root/launch/slurm.sbatch"; then pass "launch/pbs.sh, local.sh and slurm.sbatch parse (bash -n)"; else fail "a launch script does not parse"; fi

# --- 6. cv array: one array task per fold (`mmtrain cv --fold K`), then `mmtrain cv --merge` (afterok) ------
# --partition and an sbatch argument after -- (--nice) must reach the merge job too, or sbatch refuses it on a
# cluster that needs them.
partition=$(sinfo -h -o %R | head -1)
folds=$'cv:\n  folds: 3'
config cvjobs.yaml "$W/work/runs/cvjobs" 3 "$folds"
config cvone.yaml "$W/work/runs/cvone" 3 "$folds"
MMTRAIN_BIN=$bin "$root/launch/submit" cvjobs.yaml --cv --array-folds --tasks 2 --time 00:20:00 --partition "$partition" \
  -- --nice=7 >submit-cv.out 2>&1
array=$(sed -n 's/^submitted: job \([0-9]*\) (cv-fold.*/\1/p' submit-cv.out)
merge=$(sed -n 's/^submitted: job \([0-9]*\) (merges.*/\1/p' submit-cv.out)
if [ -z "$array" ] || [ -z "$merge" ]; then
  fail "cv array: launch/submit printed no array and merge job ids: $(cat submit-cv.out)"
else
  state=$(wait_job "$merge" 600)
  tasks=$(scontrol show job "$array" 2>/dev/null | grep -c 'JobState=COMPLETED')
  merge_partition=$(job_field "$merge" Partition) merge_nice=$(job_field "$merge" Nice)
  mpirun -n 2 --oversubscribe "$bin" cv --config cvone.yaml --progress lines >cvone.out 2>&1
  if [ "$state" != COMPLETED ] || [ "$tasks" -ne 3 ]; then
    fail "cv array: merge job $merge ended ${state:-?}, $tasks of 3 fold tasks COMPLETED"; tail -5 runs/cvjobs/slurm-*.out
  elif [ "$merge_partition" != "$partition" ] || [ "$merge_nice" != 7 ]; then
    fail "cv array: merge job $merge has Partition=$merge_partition Nice=$merge_nice, expected --partition $partition and -- --nice=7"
  elif ! cmp -s runs/cvjobs/report/predictions.csv runs/cvone/report/predictions.csv; then
    fail "cv array: the merged report's predictions.csv differs from the one-job cv run's"
  else
    pass "cv array with --partition $partition -- --nice=7: 3 fold tasks of job $array and merge job $merge (Partition=$merge_partition Nice=$merge_nice) COMPLETED; merged predictions.csv equals a one-job mpirun -n 2 cv run"
  fi
fi

# --- 7. a held job runs the config as submitted, not as edited while it waited ---------------------------
config held.yaml "$W/work/runs/held" 2
MMTRAIN_BIN=$bin "$root/launch/submit" held.yaml --tasks 2 --time 00:10:00 -- --hold >submit-held.out 2>&1
id=$(submitted_id submit-held.out)
snapshot=$(sed -n 's/^config:  \(.*\) (the job runs this copy)$/\1/p' submit-held.out)
if [ -z "$id" ] || [ ! -f "$snapshot" ]; then
  fail "held job: launch/submit printed no job id or no snapshot: $(cat submit-held.out)"
else
  reason=$(job_field "$id" Reason)
  sed -i 's/^  epochs: 2$/  epochs: 5/' held.yaml  # the user's edit while the job waits
  grep -q '^  epochs: 5$' held.yaml || fail "held job: the test could not edit held.yaml"
  scontrol release "$id"
  state=$(wait_job "$id" 300)
  epochs=$(wc -l <runs/held/metrics.jsonl 2>/dev/null || echo 0)
  if [ "$state" != COMPLETED ]; then
    fail "held job $id ended ${state:-?}, not COMPLETED"; tail -20 runs/held/slurm-"$id".out
  elif [ "$reason" != JobHeldUser ]; then
    fail "held job $id: Reason=$reason before release, expected JobHeldUser (-- --hold did not reach sbatch)"
  elif [ "$epochs" -ne 2 ] || ! grep -q "^mmtrain-job: config $snapshot\$" runs/held/slurm-"$id".out; then
    fail "held job $id trained $epochs epochs (snapshot: 2, edited file: 5), or its log does not name $snapshot"
  else
    pass "held job $id (Reason=$reason), held.yaml edited to 5 epochs, released: COMPLETED after the snapshot's 2 epochs ($snapshot)"
  fi
fi

echo "slurm: logs and runs in $W"
echo "slurm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
