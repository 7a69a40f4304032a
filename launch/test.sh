#!/usr/bin/env bash
# Every test: install dependencies, build (the multi-rank tests run the built binary under mpirun),
# then swift test (unit tests + multi-rank tests), then the documentation (the DocC catalog in
# Sources/mmtrain/Documentation.docc must build without a warning), the code format (.swift-format: 120
# columns; `swift format format -i -r Sources Tests` fixes what it finds), then the cluster tests on a real
# one-node Slurm (launch/slurm-test.sh: installs slurm-wlm and munge, needs root) and on a three-node Slurm in
# network namespaces (launch/cluster-test.sh: TCP between nodes, a node failure; root). .ci/run calls exactly this.
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
log=$(mktemp)
rc=0
swift test --disable-swift-testing 2>&1 | tee "$log" || rc=1
# The docs: a broken <doc:...> link or a malformed doc comment is a DocC warning, and a warning fails here.
docs=$(mktemp)
if swift package generate-documentation --target mmtrain >"$docs" 2>&1 && ! grep -q "warning:" "$docs"; then
  echo "docs: built without warnings"
else
  cat "$docs"; echo "docs: generate-documentation failed or warned (above)"; rc=1
fi
rm -f "$docs"
if lint=$(swift format lint --strict -r --configuration .swift-format Sources Tests 2>&1) && [ -z "$lint" ]; then
  echo "format: swift format lint --strict: clean"
else
  echo "$lint" | head -20; echo "format: swift format lint found the lines above (fix: swift format format -i -r Sources Tests)"; rc=1
fi
bash launch/slurm-test.sh || rc=1
bash launch/cluster-test.sh || rc=1
echo "swift test: $(grep -E 'Executed [0-9]+ tests' "$log" | tail -1 | sed 's/^[[:space:]]*//')"
rm -f "$log"
exit "$rc"
