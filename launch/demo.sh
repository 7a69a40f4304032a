#!/usr/bin/env bash
# The demo: install dependencies, build (release), write the synthetic data set, train on 8 ranks.
#   bash launch/demo.sh            (RANKS=4 bash launch/demo.sh for fewer ranks)
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh release
. launch/mpi-env.sh
bin=.build/release/mmtrain
mkdir -p runs/demo
[ -f runs/demo/demo.h5 ] || $bin synth --out runs/demo/demo.h5
# The demo always starts afresh: drop the previous demo run (mmtrain refuses to overwrite a run).
rm -f runs/demo/checkpoint-*.h5 runs/demo/latest runs/demo/metrics.jsonl runs/demo/split.json runs/demo/STOPPED
$bin inspect runs/demo/demo.h5
ranks=${RANKS:-8}
echo "demo: mpirun -n $ranks --oversubscribe mmtrain train --config configs/demo.yaml"
mpirun_quiet -n "$ranks" --oversubscribe "$bin" train --config configs/demo.yaml "$@"
