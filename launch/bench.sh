#!/usr/bin/env bash
# The benchmark: mmtrain vs PyTorch DDP (CPU) on W1..W4, 1 and 2 ranks; prints one table (the Performance article).
#   bash launch/bench.sh [--workloads W1,W4] [--rounds 3] [--epochs 3] [--markdown FILE] [--no-torch]
# Needs: the release build (made here), OpenMPI, python3 with torch and h5py (pip install torch h5py).
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/mpi-env.sh
swift build -c release >/dev/null
python3 -c 'import torch, h5py' 2>/dev/null || { echo "bench: needs python3 with torch and h5py (pip install torch h5py)" >&2; exit 1; }
exec python3 launch/bench.py "$@"
