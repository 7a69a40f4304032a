#!/bin/bash
# mmtrain under PBS/Torque (PBS Pro, OpenPBS): the equivalent of launch/slurm.sbatch. Not run on a real PBS
# here (only Slurm is tested). Edit the #PBS lines and submit:
#   qsub -v CONFIG=configs/my.yaml launch/pbs.sh
#
# Job shape: 1 node with 8 ranks (one per core), 1 hour.
#PBS -N mmtrain
#PBS -l select=1:ncpus=8:mpiprocs=8
#PBS -l walltime=01:00:00
# stdout and stderr in one file, appended to across restarts (-j oe joins them).
#PBS -j oe
# The job may be rerun (requeued) by the server, e.g. after preemption or a node failure.
#PBS -r y
# PBS has no "signal before the time limit" option: the server sends SIGTERM at the limit and SIGKILL
# a grace period later (kill_delay), and on preemption `qsig -s SIGUSR1 <job>` reaches this shell. Both are
# forwarded to mpirun as SIGUSR1 (mpirun forwards that to every rank; mmtrain checkpoints at the next step).
set -u
cd "${PBS_O_WORKDIR:-.}"
: "${CONFIG:?pass the config: qsub -v CONFIG=path/to/config.yaml launch/pbs.sh}"
MMTRAIN=${MMTRAIN_BIN:-$PWD/.build/release/mmtrain}
export OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

# A rerun job continues where the last one stopped.
RUN_DIR=$("$MMTRAIN" train --config "$CONFIG" --check | awk '/^checkpoint:/ {c = 1; next} /^[^ ]/ {c = 0} c && $1 == "dir:" {sub(/^[^:]*: */, ""); gsub(/"/, ""); print; exit}')
args=(train --config "$CONFIG" --progress lines)
[ -e "$RUN_DIR/latest" ] && args+=(--resume "$RUN_DIR")

# mpirun reads the node list from $PBS_NODEFILE (OpenMPI's tm support) or gets it here explicitly.
mpirun --hostfile "$PBS_NODEFILE" "$MMTRAIN" "${args[@]}" &
pid=$!
trap 'kill -USR1 $pid 2>/dev/null' USR1 TERM
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
wait "$pid"; rc=$?
# 75 = stopped with a checkpoint: ask the server to run this job again (it resumes from RUN_DIR).
if [ "$rc" -eq 75 ]; then qrerun "$PBS_JOBID"; fi
exit "$rc"
