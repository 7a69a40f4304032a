#!/usr/bin/env bash
# Installs what mmtrain needs on Debian/Ubuntu (OpenMPI, OpenBLAS, HDF5 and pkg-config; Swift 6 must be on
# PATH already), builds it, and links the binary into $PREFIX/bin so that `mpirun -n 8 mmtrain ...` works
# as README writes it.
#   launch/setup.sh [debug|release]   (default: release)
#   PREFIX=/opt/mmtrain launch/setup.sh    install into /opt/mmtrain/bin (default: /usr/local as root,
#                                          ~/.local otherwise); INSTALL=0 builds without linking
# Safe to re-run: packages already present are not reinstalled; the link is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev libdeflate-dev pkg-config)
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

[ "${INSTALL:-1}" = 0 ] && exit 0
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then PREFIX=/usr/local; else PREFIX=$HOME/.local; fi
fi
binary="$(pwd)/.build/$config/mmtrain"
mkdir -p "$PREFIX/bin" || { echo "setup: cannot create $PREFIX/bin (choose another PREFIX=...)" >&2; exit 1; }
ln -sfn "$binary" "$PREFIX/bin/mmtrain" || { echo "setup: cannot write $PREFIX/bin/mmtrain (choose another PREFIX=...)" >&2; exit 1; }
echo "setup: installed $PREFIX/bin/mmtrain -> $binary"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "setup: $PREFIX/bin is not on PATH; add it: export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
