#!/usr/bin/env bash
# Installs what mmtrain needs on Debian/Ubuntu (OpenMPI, OpenBLAS, HDF5 and pkg-config; Swift 6 must be on
# PATH already) and builds it. Usage: launch/setup.sh [debug|release]   (default: release)
# Safe to re-run: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev pkg-config)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift not found on PATH (install Swift 6.x from swift.org)" >&2; exit 1; }

echo "setup: swift build -c $config"
swift build -c "$config"
