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
# qsub runs a copy of this script from its spool: the checkout is found from the submit directory.
root=${MMTRAIN_ROOT:-$PWD}
[ -f "$root/launch/lib.sh" ] || { echo "pbs: $root/launch/lib.sh not found: qsub from the mmtrain checkout, or -v MMTRAIN_ROOT=..." >&2; exit 64; }
. "$root/launch/lib.sh"
MMTRAIN=$(mmtrain_binary "$root") || { echo "pbs: mmtrain not built (bash launch/setup.sh)" >&2; exit 1; }

# A rerun job continues where the last one stopped.
RUN_DIR=$(mmtrain_run_dir "$MMTRAIN" "$CONFIG") || exit 64
args=(train --config "$CONFIG" --progress lines)
[ -e "$RUN_DIR/latest" ] && args+=(--resume "$RUN_DIR")

# mpirun reads the node list from $PBS_NODEFILE (OpenMPI's tm support) or gets it here explicitly.
mpirun --hostfile "$PBS_NODEFILE" "$MMTRAIN" "${args[@]}" &
mmtrain_forward_and_wait $! pbs USR1 TERM
rc=$?
# 75 = stopped with a checkpoint: ask the server to run this job again (it resumes from RUN_DIR).
if [ "$rc" -eq 75 ]; then qrerun "$PBS_JOBID"; fi
exit "$rc"
