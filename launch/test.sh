#!/usr/bin/env bash
# Every test: install dependencies, build (the multi-rank tests run the built binary under mpirun),
# then swift test (unit tests + multi-rank tests). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTALL=0 bash launch/setup.sh debug
# The report rendering test (EvalTests) opens report.html in headless Chromium (Debian's package).
if ! command -v chromium >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "test: installing chromium (for the report.html rendering test)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
. launch/mpi-env.sh
swift test --disable-swift-testing
