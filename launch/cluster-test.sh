#!/usr/bin/env bash
# The cluster path beyond one node, on a REAL multi-node Slurm built on this one machine (no mock):
#   - a bridge and four network namespaces on it, 10.77.0.0/24 (a private subnet; nothing else is ever a
#     target): head (10.77.0.10, slurmctld, where jobs are submitted from) and node1..node3
#     (10.77.0.11-13), each with its own UTS namespace (hostname head, node1, ...) and its own slurmd
#     (`slurmd -N nodeK`, NodeAddr = its address); munged is one, shared through the filesystem (its socket);
#   - the filesystem is shared as NFS or Lustre would be (it is one machine): the run directories and the
#     data file live on it; node3 alone has a private mount over one run directory (check 2);
#   - OpenMPI talks TCP between nodes (the tcp BTL, btl_tcp_if_include=10.77.0.0/24), shared memory (vader)
#     within one; its verbose output says which, and the test prints it.
# Checks, in this order:
#   1. launch/submit CONFIG --nodes 2 --tasks 4 (2 ranks per node) ends COMPLETED; its final weights equal a
#      one-node `mpirun -n 4` run of the same config (h5diff, exact); the transport lines prove TCP carried
#      the sums between the nodes and shared memory within them;
#   2. the run directory is not the same on every node (node3 has a private mount over it): the run stops at
#      start-up with one line saying so, exit non-zero, nothing of the run directory deleted;
#   3. preemption across nodes: `scancel --signal=USR1 --batch` mid-run -> checkpoint -> requeue -> resume ->
#      COMPLETED, weights equal an uninterrupted run's;
#   4. the cv array across nodes: launch/submit --cv --array-folds (3 folds, each on 2 nodes), then the merge
#      job; the merged predictions.csv equals a one-job cv run's; and a cv run with cv.parallel_folds: 2 whose
#      fold groups each span both nodes equals a one-node mpirun -n 4 cv run;
#   5. a node dies mid-epoch: node2's slurmd and every process in its namespace get SIGKILL; the job ends
#      within dist.timeout_s + 30 s with a line naming the lost ranks; a resubmission with --nodes 2
#      --tasks 2 lands on the survivors, resumes from the last checkpoint on 2 ranks instead of 4, ends
#      COMPLETED, and its weights equal a one-node run that changed from 4 ranks to 2 at that checkpoint.
# Nothing waits on the clock: each step waits for what shows progress (a log line, a job state), with
# generous caps. Everything it starts is stopped by PID; the namespaces, the bridge and the temp folder go at
# the end, also when a check fails or it is interrupted (trap). It must run as root (CI does), or it fails;
# it never passes silently. Usage: bash launch/cluster-test.sh   (MMTRAIN_BIN=path to test another binary;
# CLUSTER_SLURMCTLD_PORT, CLUSTER_SLURMD_PORT, default 6827 and 6828, not slurm-test.sh's 6817/6818;
# CLUSTER_KEEP=1 keeps the temp folder for the logs)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)
passed=0 failed=0
pass() { echo "cluster: ok   $*"; passed=$((passed + 1)); }
fail() { echo "cluster: FAIL $*"; failed=$((failed + 1)); }
# The end of a job's log, and where a rank crashed the crash report's frames (Swift's backtracer prints them
# before the registers, which a plain tail would show alone).
show_log() {
  local at
  at=$(grep -n -m1 -E 'crashed:|\*\*\* Signal [0-9]+' "$1" | cut -d: -f1)
  [ -z "$at" ] || sed -n "${at},+60p" "$1"
  tail -"${2:-30}" "$1"
}
die() { echo "cluster: FAIL $*"; echo "cluster: $passed passed, $((failed + 1)) failed"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it creates network namespaces and a bridge, and runs slurmctld/slurmd as root)"

# --- packages --------------------------------------------------------------------------------------------
need=()
for p in slurm-wlm munge hdf5-tools iproute2; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "cluster: installing ${need[*]}"
  apt-get update -qq || die "apt-get update failed: cannot install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "cannot install ${need[*]} (apt-get install failed): the cluster tests did not run"
fi
for c in munged slurmctld slurmd sbatch scontrol scancel sinfo h5diff ip unshare nsenter mpirun; do
  command -v "$c" >/dev/null || die "$c not found after installing slurm-wlm, munge, hdf5-tools and iproute2"
done

bin=${MMTRAIN_BIN:-$root/.build/debug/mmtrain}
[ -x "$bin" ] || die "$bin not found: build first (swift build)"
. launch/mpi-env.sh

# --- the network: a bridge, a namespace per node ---------------------------------------------------------
# Names carry this shell's PID, so two runs side by side do not meet; the subnet lives only on this bridge
# (the bridge itself has no address: the machine's own namespace cannot reach the nodes, nor they it).
W=$(mktemp -d /tmp/mmtrain-cluster.XXXXXX)
chmod 755 "$W"
tag=mmc$$
bridge=${tag}br
subnet=10.77.0.0/24
nodes=(head node1 node2 node3)
declare -A addr=([head]=10.77.0.10 [node1]=10.77.0.11 [node2]=10.77.0.12 [node3]=10.77.0.13)
ns() { echo "$tag-$1"; }

pids=()
cleanup() {
  # Exactly the processes this script started, by PID, newest first; then every process still in one of
  # our namespaces (a slurmstepd or rank a daemon left), then the namespaces, the bridge, the folder.
  local p i n
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[$i]}
    kill -0 "$p" 2>/dev/null || continue
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  pids=()
  for n in "${nodes[@]}"; do
    if ip netns list 2>/dev/null | grep -qw "$(ns "$n")"; then
      for p in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
      ip netns del "$(ns "$n")" 2>/dev/null
    fi
  done
  ip link del "$bridge" 2>/dev/null
  # Shared-memory segments of ranks killed with their node (check 5), by the nodes' names, new since the start.
  for p in /dev/shm/vader_segment.node[0-9].*; do
    [ -e "$p" ] && ! grep -qxF "${p##*/}" "$W/shm-before" 2>/dev/null && rm -f "$p"
  done
  if [ "${CLUSTER_KEEP:-0}" = 1 ]; then echo "cluster: logs and runs kept in $W"; else rm -rf "$W"; fi
}
ls /dev/shm >"$W/shm-before" 2>/dev/null
trap cleanup EXIT
trap 'echo "cluster: interrupted"; exit 130' INT TERM

ip link add "$bridge" type bridge || die "cannot create the bridge $bridge (ip link add ... type bridge)"
ip link set "$bridge" up
k=0
for n in "${nodes[@]}"; do
  ip netns add "$(ns "$n")" || die "cannot create the network namespace $(ns "$n")"
  ip link add "${tag}v$k" type veth peer name eth0 netns "$(ns "$n")" || die "cannot create the veth pair for $n"
  ip link set "${tag}v$k" master "$bridge" up
  ip -n "$(ns "$n")" addr add "${addr[$n]}/24" dev eth0
  ip -n "$(ns "$n")" link set eth0 up
  ip -n "$(ns "$n")" link set lo up
  k=$((k + 1))
done
# Runs a command in a node's network namespace. nsenter, not `ip netns exec`, which would remount /sys
# (without /sys/fs/cgroup, which slurmd needs). Its hostname is the node's own only inside the daemons:
# Slurm and OpenMPI take the names from the daemons, not from here.
on() { local n=$1; shift; nsenter --net="/run/netns/$(ns "$n")" "$@"; }

# --- Slurm: slurmctld on head, a slurmd per node ---------------------------------------------------------
mkdir -p "$W/localtmp" "$W/state" "$W/spool/node1" "$W/spool/node2" "$W/spool/node3" "$W/munge" "$W/work/runs/private"
chmod 711 "$W/munge"
export SLURM_CONF="$W/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Written by launch/cluster-test.sh: a controller and three nodes, each in its own network namespace.
ClusterName=mmtrain-nodes
SlurmctldHost=head(${addr[head]})
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${CLUSTER_SLURMCTLD_PORT:-6827}
SlurmdPort=${CLUSTER_SLURMD_PORT:-6828}
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
# A node that stops answering is DOWN within about this long, and a step's leftovers are killed this soon
# after (check 5; Slurm's defaults, 300 s and 30 s, would hold the dead node's job that long).
SlurmdTimeout=10
KillWait=5
MessageTimeout=5
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool/%n
TmpFS=$W/localtmp
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd-%n.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd-%n.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=node1 NodeAddr=${addr[node1]} NodeHostname=node1 CPUs=2 State=UNKNOWN
NodeName=node2 NodeAddr=${addr[node2]} NodeHostname=node2 CPUs=2 State=UNKNOWN
NodeName=node3 NodeAddr=${addr[node3]} NodeHostname=node3 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=node[1-3] Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF

dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
munged -F -f --socket="$W/munge/munge.socket" --key-file="$W/munge/munge.key" --pid-file="$W/munge/munged.pid" \
  --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed" >"$W/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$W/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$W/munge/munge.socket" ] || die "munged did not start (log: $W/munge/munged.log)"

# Each daemon: its node's network namespace, a UTS namespace with the node's hostname, and exec, so the PID
# recorded is the daemon's own. node3 also gets a private mount namespace with an empty tmpfs over
# runs/private: there, that run directory is node-local (check 2). Each node has its own node-local temp
# folder too (TmpFS, where the PMIx plugin puts its per-step folders, named by job and step only): its
# $W/tmp-nodeK bound over $W/localtmp.
on head unshare --uts sh -c "hostname head && exec slurmctld -D -i -f '$SLURM_CONF'" >"$W/slurmctld.out" 2>&1 &
pids+=($!)
for n in node1 node2 node3; do
  private=""
  [ "$n" = node3 ] && private="mount -t tmpfs -o size=16m node3-local '$W/work/runs/private' &&"
  mkdir -p "$W/tmp-$n"
  on "$n" unshare --uts --mount --propagation private \
    sh -c "hostname $n && mount --bind '$W/tmp-$n' '$W/localtmp' && $private exec slurmd -D -N $n -f '$SLURM_CONF'" >"$W/slurmd-$n.out" 2>&1 &
  pids+=($!)
  eval "slurmd_$n=$!"
done
# Client commands (sbatch, scontrol, launch/submit) run on head, the login node.
sc() { on head "$@"; }
up=""
for _ in $(seq 150); do
  if [ "$(sc sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE ' (idle|mixed|allocated)$')" -eq 3 ]; then up=yes; break; fi
  sleep 0.2
done
[ -n "$up" ] || { sc sinfo -N 2>&1; tail -n 5 "$W"/slurm*.log; die "slurmctld and the three slurmd did not come up (logs in $W)"; }
echo "cluster: up: head ${addr[head]} (slurmctld), node1..node3 ${addr[node1]}..${addr[node3]} (slurmd), bridge $bridge, daemons ${pids[*]}"

# --- OpenMPI: TCP between the nodes on the bridge's subnet, shared memory within a node -------------------
# ob1 with the tcp, vader and self BTLs. sbatch passes the environment to the job and its ranks; check 1
# adds btl_base_verbose, so that each rank logs the BTL that carries its sends to each peer.
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=$subnet \
  OMPI_MCA_oob_tcp_if_include=$subnet

# --- helpers ---------------------------------------------------------------------------------------------
job_field() { sc scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
wait_job() {  # wait_job ID [TIMEOUT]: waits for a final state; prints it
  local id=$1 timeout=${2:-300} state=""
  for _ in $(seq $((timeout * 2))); do
    state=$(job_field "$id" JobState)
    case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;; esac
    sleep 0.5
  done
  echo "$state"
}
submitted_id() { sed -n 's/^submitted: job \([0-9_]*\).*/\1/p' "$1" | head -1; }
same_weights() { h5diff -q "$1" "$2" /params /params && h5diff -q "$1" "$2" /optimizer /optimizer; }
submit() { sc env MMTRAIN_BIN="$bin" "$root/launch/submit" "$@"; }
# A one-node reference run: mpirun on node1 alone (shared memory only), as a user would on one machine.
mpirun_one_node() { on node1 mpirun -n "$1" --oversubscribe "${@:2}"; }

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
dist:
  timeout_s: 10
${4:-}
EOF
}

# --- 1. two nodes, four ranks: COMPLETED, weights equal one node's mpirun -n 4, TCP between the nodes -----
config nodes2.yaml "$W/work/runs/nodes2" 3
config direct.yaml "$W/work/runs/direct" 3
OMPI_MCA_btl_base_verbose=30 submit nodes2.yaml --nodes 2 --tasks 4 --time 00:10:00 >submit1.out 2>&1
cat submit1.out
id=$(submitted_id submit1.out)
if [ -z "$id" ]; then
  fail "launch/submit --nodes 2 --tasks 4 printed no job id"
else
  state=$(wait_job "$id" 300)
  log=runs/nodes2/slurm-$id.out
  OMPI_MCA_btl_base_verbose=0 mpirun_one_node 4 "$bin" train --config direct.yaml --progress lines >direct.out 2>&1
  nodelist=$(job_field "$id" NodeList)
  # Transport evidence: OpenMPI's bml says, per rank, which BTL carries its sends to each peer and on which
  # node that peer is ("[node1:123] mca: bml: Using tcp btl for send to [[4,1],2] on node node2").
  # Summarised as sender node -> peer node: BTL.
  pairs=$(sed -nE 's/^\[([a-z0-9]+):[0-9]+\] mca: bml: Using ([a-z]+) btl for send to .* on node ([a-z0-9]+)$/\1 \3 \2/p' "$log")
  routes=$(echo "$pairs" | awk 'NF && $3 != "self" {print $1 " -> " $2 ": " $3}' | sort | uniq -c \
    | awk '{c = $1; $1 = ""; printf "%s%s (%d)", sep, substr($0, 2), c; sep = ", "}')
  echo "cluster: transports of job $id, from OpenMPI's verbose output (sender node -> peer node: BTL (rank pairs)): ${routes:-none}"
  tcp_between=$(echo "$pairs" | awk '$3 == "tcp" && $1 != $2' | wc -l)
  tcp_within=$(echo "$pairs" | awk '$3 == "tcp" && $1 == $2' | wc -l)
  vader_within=$(echo "$pairs" | awk '$3 == "vader" && $1 == $2' | wc -l)
  # The loader's read rate per node (NodeLoad): one line, each node with its 2 ranks.
  node_load=$(grep -m1 '^load per node: ' "$log")
  echo "cluster: ${node_load:-no 'load per node' line in $log}"
  if [ "$state" != COMPLETED ]; then
    fail "2 nodes x 2 ranks: job $id ended ${state:-?}, not COMPLETED"; show_log "$log"
  elif [ "$nodelist" != "node[1-2]" ] && [ "$nodelist" != "node[1,3]" ] && [ "$nodelist" != "node[2-3]" ]; then
    fail "2 nodes x 2 ranks: job $id ran on '$nodelist', not on two nodes"
  elif [ "$tcp_between" -eq 0 ] || [ "$tcp_within" -ne 0 ] || [ "$vader_within" -eq 0 ]; then
    fail "2 nodes x 2 ranks: expected tcp between the nodes and vader within each, OpenMPI says: ${routes:-nothing} ($log)"
  elif ! same_weights runs/nodes2/latest runs/direct/latest; then
    fail "2 nodes x 2 ranks: job $id's weights differ from a one-node mpirun -n 4"
  elif ls -A runs/nodes2 | grep -q '^\.shared-check-'; then
    fail "2 nodes x 2 ranks: the shared-run-directory marker was left in runs/nodes2"
  elif [ "$(echo "$node_load" | grep -oE 'node[0-9] 2 ranks, [0-9]+ MB in [0-9.]+ s \([0-9.]+ GB/s\)' | wc -l)" -ne 2 ]; then
    fail "2 nodes x 2 ranks: expected the read rate of both nodes, 2 ranks each: '${node_load:-nothing}'"
  else
    pass "launch/submit --nodes 2 --tasks 4: job $id on $nodelist COMPLETED; weights equal a one-node mpirun -n 4 (h5diff, exact); tcp between the nodes, vader within each; read rate per node reported"
  fi
fi

# --- 2. the run directory is not the same on every node: one line at start-up, nothing deleted -------------
# node3 sees an empty tmpfs at runs/private (its slurmd's mount namespace), node1 the shared folder: as a
# checkpoint.dir on a node-local disk would be. srun straight from head (launch/submit would put its config
# snapshot into that very folder, which node3 could not read).
config private.yaml "$W/work/runs/private" 3
echo "written before the run; must survive it" >runs/private/notes.txt
out=$(sc srun --mpi=pmix -N 2 -n 2 --ntasks-per-node=1 -w node1,node3 --time=5 "$bin" train --config "$W/work/private.yaml" 2>&1); rc=$?
errors=$(echo "$out" | grep 'mmtrain: error:')
# What may be there after: notes.txt, and .lock (RunLock's note of the last holder, left after every run).
left=$(ls -A runs/private | grep -vx '.lock' | tr '\n' ' ')
if [ $rc -eq 0 ] || [ "$(echo "$errors" | grep -c .)" -ne 1 ] || ! echo "$errors" | grep -q 'is not the same folder on every node'; then
  fail "node-local run directory: srun on node1,node3 exit $rc, expected one line saying the run directory is not the same on every node: $out"
elif [ "$left" != "notes.txt " ] || ! grep -q 'must survive' runs/private/notes.txt; then
  fail "node-local run directory: refused, but the run directory changed: it holds '$left' (expected only notes.txt)"
elif echo "$out" | grep -q '^epoch '; then
  fail "node-local run directory: refused only after training started: $out"
else
  pass "node-local run directory (node3 has a private mount over it): stopped at start-up, exit $rc, one line: $(echo "$errors" | cut -c1-240)"
fi

# --- 3. preemption across nodes: USR1 to the batch shell mid-run, requeue, resume, COMPLETED ---------------
# As slurm-test.sh does on one node: the batch shell forwards the signal to srun, srun to every rank on both
# nodes; they stop at the next step with a checkpoint (exit 75), the job requeues itself and resumes.
config straight.yaml "$W/work/runs/straight" 150
mpirun_one_node 4 "$bin" train --config straight.yaml --progress lines >straight.out 2>&1 \
  || fail "the uninterrupted reference run (mpirun -n 4 on node1) failed: $(tail -3 straight.out)"
config preempt.yaml "$W/work/runs/preempt" 150
submit preempt.yaml --nodes 2 --tasks 4 --time 00:20:00 >submit-preempt.out 2>&1
id=$(submitted_id submit-preempt.out)
if [ -z "$id" ]; then
  fail "preemption: launch/submit printed no job id: $(cat submit-preempt.out)"
else
  log=runs/preempt/slurm-$id.out
  for _ in $(seq 1200); do grep -q '^epoch 3/' "$log" 2>/dev/null && break; sleep 0.2; done
  sc scancel --signal=USR1 --batch "$id"
  resumed=""
  for _ in $(seq 3000); do
    if sed -n '/^mmtrain-job: start .* restart 1 /,$p' "$log" 2>/dev/null | grep -q '^epoch '; then resumed=yes; break; fi
    sleep 0.2
  done
  state=$(wait_job "$id" 600)
  restarts=$(job_field "$id" Restarts)
  nodelist=$(job_field "$id" NodeList)
  epochs_second=$(sed -n '/^mmtrain-job: start .* restart 1 /,$p' "$log" | grep -c '^epoch ')
  if [ "$state" != COMPLETED ]; then
    fail "preemption: job $id ended ${state:-?}, not COMPLETED"; show_log "$log"
  elif [ "${restarts:-0}" -lt 1 ] || [ -z "$resumed" ]; then
    fail "preemption: job $id: Restarts=$restarts, expected >= 1 and a resumed run (not requeued)"; show_log "$log"
  elif ! grep -q 'stopped by a signal' "$log"; then
    fail "preemption: job $id: no 'stopped by a signal' in $log"; show_log "$log"
  elif [ "$epochs_second" -ge 150 ]; then
    fail "preemption: job $id: the requeued run trained $epochs_second epochs: it started over instead of resuming"
  elif ! same_weights runs/preempt/latest runs/straight/latest; then
    fail "preemption: job $id: weights differ from an uninterrupted run"
  else
    pass "preemption across nodes: job $id on $nodelist stopped by USR1, requeued (Restarts=$restarts), resumed ($epochs_second of 150 epochs after the restart), COMPLETED; weights equal an uninterrupted mpirun -n 4"
  fi
fi

# --- 4. the cv array across nodes: one array task per fold (2 ranks on 2 nodes each), then the merge job -----
folds=$'cv:\n  folds: 3'
config cvjobs.yaml "$W/work/runs/cvjobs" 3 "$folds"
config cvone.yaml "$W/work/runs/cvone" 3 "$folds"
submit cvjobs.yaml --cv --array-folds --nodes 2 --tasks 2 --time 00:20:00 >submit-cv.out 2>&1
array=$(sed -n 's/^submitted: job \([0-9]*\) (cv-fold.*/\1/p' submit-cv.out)
merge=$(sed -n 's/^submitted: job \([0-9]*\) (merges.*/\1/p' submit-cv.out)
if [ -z "$array" ] || [ -z "$merge" ]; then
  fail "cv array: launch/submit printed no array and merge job ids: $(cat submit-cv.out)"
else
  state=$(wait_job "$merge" 600)
  tasks=$(sc scontrol show job "$array" 2>/dev/null | grep -c 'JobState=COMPLETED')
  spread=$(sc scontrol show job "$array" 2>/dev/null | sed -n 's/^ *NodeList=\(node.*\)/\1/p' | sort | uniq -c | awk '{printf "%s%s x%d", sep, $2, $1; sep=", "}')
  mpirun_one_node 2 "$bin" cv --config cvone.yaml --progress lines >cvone.out 2>&1
  if [ "$state" != COMPLETED ] || [ "$tasks" -ne 3 ]; then
    fail "cv array: merge job $merge ended ${state:-?}, $tasks of 3 fold tasks COMPLETED"; tail -5 runs/cvjobs/slurm-*.out
  elif ! cmp -s runs/cvjobs/report/predictions.csv runs/cvone/report/predictions.csv; then
    fail "cv array: the merged report's predictions.csv differs from the one-job cv run's"
  else
    pass "cv array across nodes: 3 fold tasks of job $array (each 2 ranks on 2 nodes: $spread) and merge job $merge COMPLETED; merged predictions.csv equals a one-job mpirun -n 2 cv run"
  fi
fi

# --- 4b. cv with cv.parallel_folds: 2, each fold group spanning both nodes ----------------------------------
# Groups are ranks {0,1} and {2,3}; --distribution=cyclic puts ranks 0 and 2 on one node, 1 and 3 on the
# other, so each group's sums cross the nodes.
par=$'cv:\n  folds: 3\n  parallel_folds: 2'
config cvpar.yaml "$W/work/runs/cvpar" 3 "$par"
config cvpar-one.yaml "$W/work/runs/cvpar-one" 3 "$par"
submit cvpar.yaml --cv --nodes 2 --tasks 4 --time 00:20:00 -- --distribution=cyclic >submit-cvpar.out 2>&1
id=$(submitted_id submit-cvpar.out)
if [ -z "$id" ]; then
  fail "cv parallel_folds: launch/submit printed no job id: $(cat submit-cvpar.out)"
else
  state=$(wait_job "$id" 600)
  mpirun_one_node 4 "$bin" cv --config cvpar-one.yaml --progress lines >cvpar-one.out 2>&1
  nodelist=$(job_field "$id" NodeList)
  if [ "$state" != COMPLETED ]; then
    fail "cv parallel_folds: job $id ended ${state:-?}, not COMPLETED"; show_log runs/cvpar/slurm-"$id".out 20
  elif ! cmp -s runs/cvpar/report/predictions.csv runs/cvpar-one/report/predictions.csv; then
    fail "cv parallel_folds: job $id's predictions.csv differs from a one-node mpirun -n 4 cv run's"
  else
    pass "cv with parallel_folds 2 over 2 nodes (cyclic: each fold group on both): job $id on $nodelist COMPLETED; predictions.csv equals a one-node mpirun -n 4 cv run"
  fi
fi

# --- 5. a node dies mid-epoch; the job ends, naming the lost ranks; a resubmission resumes on the survivors ---
# --no-requeue: Slurm would requeue a job of a failed node by itself; here the user resubmits (onto the two
# nodes left), as one does after a node failure when the job was not requeued.
config nodefail.yaml "$W/work/runs/nodefail" 100
config nodefail-ref.yaml "$W/work/runs/nodefail-ref" 100
submit nodefail.yaml --nodes 2 --tasks 4 --time 00:20:00 -- --nodelist=node1,node2 --no-requeue >submit-nodefail.out 2>&1
id=$(submitted_id submit-nodefail.out)
if [ -z "$id" ]; then
  fail "node failure: launch/submit printed no job id: $(cat submit-nodefail.out)"
else
  log=runs/nodefail/slurm-$id.out
  for _ in $(seq 1200); do
    grep -q '^epoch 5/' "$log" 2>/dev/null && break
    case "$(job_field "$id" JobState)" in PENDING | RUNNING | "") sleep 0.2 ;; *) break ;; esac
  done
fi
if [ -n "$id" ] && ! grep -q '^epoch 5/' "$log" 2>/dev/null; then
  fail "node failure: job $id ended $(job_field "$id" JobState) before epoch 5, nothing to kill"; show_log "$log"
elif [ -n "$id" ]; then
  # node2 dies: its slurmd first (recorded PID), then every process left in its namespace (slurmstepd, ranks).
  killed_at=$(date +%s.%N)
  kill -KILL "$slurmd_node2"
  wait "$slurmd_node2" 2>/dev/null  # reaped here, so the shell does not report the kill
  victims=$(ip netns pids "$(ns node2)" | tr '\n' ' ')
  for p in $victims; do kill -KILL "$p" 2>/dev/null; done
  named=""
  for _ in $(seq 600); do
    grep -q 'did not arrive' "$log" && { named=$(date +%s.%N); break; }
    case "$(job_field "$id" JobState)" in RUNNING | COMPLETING | "") sleep 0.2 ;; *) break ;; esac
  done
  state=$(wait_job "$id" 120)
  ended_at=$(date +%s.%N)
  took=$(awk -v a="$killed_at" -v b="$ended_at" 'BEGIN {printf "%.1f", b - a}')
  said=$([ -n "$named" ] && awk -v a="$killed_at" -v b="$named" 'BEGIN {printf "the watchdog named them %.1fs after, ", b - a}')
  # The line that names them: mmtrain's watchdog ("ranks 2, 3 did not arrive"), else OpenMPI's or Slurm's.
  # mmtrain ignores SIGPIPE: before it did, a rank on node1 writing to node2 died of it in about 1 run in 4
  # ("srun: error: node1: task 0: Broken pipe"), and srun ended the step before the watchdog spoke.
  lost=$(grep -m1 'did not arrive' "$log" \
    || grep -m1 -E "Peer host: +node2|Node failure on node2|connect\(\) to ${addr[node2]//./\\.}:" "$log")
  last=$(readlink runs/nodefail/latest)
  if [ -z "$state" ] || ! awk -v t="$took" 'BEGIN {exit !(t <= 10 + 30)}'; then
    fail "node failure: job $id did not end within dist.timeout_s + 30 s = 40 s after node2 died (state ${state:-?} after ${took}s)"; show_log "$log" 20
  elif [ -z "$lost" ]; then
    fail "node failure: job $id ended $state ${took}s after node2 died, but no line names the lost ranks or node"; show_log "$log" 20
  else
    pass "node failure: node2 killed (slurmd and $(echo "$victims" | wc -w) processes in its namespace) after epoch 5; ${said}job $id ended $state ${took}s after: $lost"
  fi
  # Wait for Slurm to take node2 out of service, then resubmit: --nodes 2 can only be node1 and node3. With
  # --tasks 2 the world shrinks from 4 ranks to 2 at the checkpoint; the reference does the same on one node:
  # 4 ranks from scratch to that checkpoint's epoch, then resumed on 2 ranks (train.epochs may change on resume).
  for _ in $(seq 300); do sc sinfo -h -n node2 -o %T 2>/dev/null | grep -qE 'down|fail|not_responding|\*' && break; sleep 0.2; done
  submit nodefail.yaml --nodes 2 --tasks 2 --time 00:20:00 >submit-nodefail2.out 2>&1
  id2=$(submitted_id submit-nodefail2.out)
  at=$(echo "$last" | sed -n 's/^checkpoint-e0*\([0-9][0-9]*\)\.h5$/\1/p')
  [ -n "$at" ] || fail "node failure: the last checkpoint '$last' is not an epoch's (checkpoint-eNNNN.h5)"
  mpirun_one_node 4 "$bin" train --config nodefail-ref.yaml --set train.epochs="${at:-1}" --progress lines >nodefail-ref.out 2>&1
  mpirun_one_node 2 "$bin" train --config nodefail-ref.yaml --resume runs/nodefail-ref --progress lines >>nodefail-ref.out 2>&1
  if [ -z "$id2" ]; then
    fail "node failure: the resubmission printed no job id: $(cat submit-nodefail2.out)"
  else
    state=$(wait_job "$id2" 600)
    log2=runs/nodefail/slurm-$id2.out
    nodelist=$(job_field "$id2" NodeList)
    if [ "$state" != COMPLETED ]; then
      fail "node failure: the resubmitted job $id2 ended ${state:-?}, not COMPLETED"; show_log "$log2" 20
    elif ! grep -q -- "--resume" "$log2" || ! grep -q '^resumed: ' "$log2"; then
      fail "node failure: the resubmitted job $id2 did not resume from $last"; grep -v '^epoch' "$log2" | tail -20
    elif ! same_weights runs/nodefail/latest runs/nodefail-ref/latest; then
      fail "node failure: the resumed job $id2's weights differ from a one-node run that went from 4 ranks to 2 at epoch $at"
    else
      pass "node failure: resubmitted --nodes 2 --tasks 2 as job $id2 on $nodelist (survivors), resumed from $last on 2 ranks instead of 4, COMPLETED; weights equal a one-node run that went from mpirun -n 4 to -n 2 at epoch $at"
    fi
  fi
fi

echo "cluster: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
[ "$failed" -eq 0 ]
