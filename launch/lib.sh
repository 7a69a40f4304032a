# Sourced by the launch scripts (local.sh, pbs.sh, submit, the Slurm batch job, demo.sh, test.sh): what they
# share, once. `. launch/lib.sh` also sources mpi-env.sh (the OpenMPI root variables and mpirun_quiet).
#   mmtrain_binary ROOT            the mmtrain to run: $MMTRAIN_BIN, else ROOT/.build/release, else
#                                  ROOT/.build/debug, else `mmtrain` on PATH (absolute; empty if none)
#   mmtrain_run_dir BIN CONFIG [--set k=v]...   the run directory (checkpoint.dir) the config resolves to
#   mmtrain_forward_and_wait PID TAG SIGNAL...  forwards each SIGNAL (USR1, TERM) to PID as SIGUSR1 (the ranks
#                                  stop at the next step with a checkpoint) and waits for it; returns its status
mmtrain_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$mmtrain_lib_dir/mpi-env.sh"
# Ranks own the cores, not BLAS threads (train.blas_threads may raise it per rank).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

mmtrain_binary() {
  local root=${1:-$mmtrain_lib_dir/..} c
  for c in "${MMTRAIN_BIN:-}" "$root/.build/release/mmtrain" "$root/.build/debug/mmtrain" "$(command -v mmtrain || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && [ ! -d "$c" ]; then
      echo "$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"
      return 0
    fi
  done
  [ -z "${MMTRAIN_BIN:-}" ] || { echo "MMTRAIN_BIN=$MMTRAIN_BIN is not an executable file" >&2; return 1; }
  return 1
}

mmtrain_run_dir() {
  local bin=$1 config=$2
  shift 2
  "$bin" config --get checkpoint.dir --config "$config" "$@"
}

mmtrain_forward_and_wait() {
  local pid=$1 tag=$2 rc s
  shift 2
  # bash runs a trap only between commands, never during a foreground one: the launcher runs in the
  # background and `wait` returns early whenever the trap ran, so wait again until it has really exited.
  for s in "$@"; do
    trap "echo \"$tag: SIG$s: asking the ranks to stop at the next step (\$(date -Is))\"; kill -USR1 $pid 2>/dev/null" "$s"
  done
  while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
  wait "$pid"; rc=$?
  for s in "$@"; do trap - "$s"; done
  return "$rc"
}
