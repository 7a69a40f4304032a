#!/usr/bin/env bash
# Train on this machine under mpirun: one rank per core by default.
#   bash launch/local.sh CONFIG [RANKS] [-- more mmtrain train arguments]
#   e.g. bash launch/local.sh configs/demo.yaml 4 -- --set train.epochs=3
# --oversubscribe is added only when RANKS exceeds the cores; the OpenMPI root variables only as root.
# A stopped run (Ctrl-C, SIGUSR1: exit 75) continues with the same command: --resume is added when
# RUN_DIR/latest exists.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:?usage: launch/local.sh CONFIG [RANKS] [-- mmtrain train arguments]}; shift
cores=$(nproc)
ranks=$cores
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ranks=$1; shift; fi
[ "${1:-}" = "--" ] && shift
. "$root/launch/lib.sh"
bin=$(mmtrain_binary "$root") || { echo "local: mmtrain not built (bash launch/setup.sh)" >&2; exit 1; }
mpi=()
[ "$ranks" -gt "$cores" ] && mpi+=(--oversubscribe)
"$bin" train --config "$config" --check "$@" >/dev/null || exit $?
run_dir=$(mmtrain_run_dir "$bin" "$config" "$@")
args=(train --config "$config" "$@")
[ -e "$run_dir/latest" ] && args+=(--resume "$run_dir")
echo "local: mpirun -n $ranks ${mpi[*]} $bin ${args[*]}"
exec mpirun -n "$ranks" "${mpi[@]}" "$bin" "${args[@]}"
