#!/usr/bin/env bash
# The benchmark: mmtrain vs PyTorch DDP (CPU) on W1..W5, 1 and 2 ranks; prints one table (the Performance article).
#   bash launch/bench.sh [--workloads W1,W4] [--rounds 3] [--epochs 3] [--markdown FILE] [--no-torch]
#   bash launch/bench.sh --invariant --workloads W1,W2,W4   (dist.world_invariant on vs off only: its cost)
# Needs: the release build (made here), OpenMPI, python3 with torch and h5py (pip install torch h5py).
#   bash launch/bench.sh --project [--seconds 2] [--markdown FILE]
# The scaling projection instead (launch/project.py, as root: the gradient sum measured on shaped links between
# network namespaces, the alpha-beta fit, W1/W2 at 16-256 ranks on 10-100 Gbit/s; the Performance article).
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/mpi-env.sh
if [ "${1:-}" = --project ]; then
  shift
  swift build -c release --product cellbench >/dev/null
  exec python3 launch/project.py "$@"
fi
swift build -c release >/dev/null
case " $* " in
  *" --no-torch "*|*" --invariant "*|*" --startup-only "*) python3 -c 'import h5py' 2>/dev/null || { echo "bench: needs python3 with h5py (pip install h5py)" >&2; exit 1; } ;;
  *) python3 -c 'import torch, h5py' 2>/dev/null || { echo "bench: needs python3 with torch and h5py (pip install torch h5py)" >&2; exit 1; } ;;
esac
exec python3 launch/bench.py "$@"
