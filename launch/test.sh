#!/usr/bin/env bash
# Every test: install dependencies, build (the multi-rank tests run the built binary under mpirun),
# then swift test (unit tests + multi-rank tests). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTALL=0 bash launch/setup.sh debug
. launch/mpi-env.sh
swift test --disable-swift-testing
