#!/usr/bin/env python3
"""Two mmtrain binaries on the benchmark's workloads, in interleaved rounds (the before/after check of a
refactoring: "the benchmark stays within its noise"). mmtrain only, no PyTorch.

    python3 launch/bench_compare.py --baseline /path/to/old/mmtrain [--binary .build/release/mmtrain]
                                    [--workloads W1,W2] [--rounds 3] [--epochs 3]

Each round runs every workload at 1 and 2 ranks with both binaries, alternating which goes first; it prints
each run and then, per workload and world size, the best and median samples/s of each and their ratio.
Data and configs are the benchmark's (launch/bench.py)."""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", required=True, help="the binary to compare against (e.g. a release build of main)")
    p.add_argument("--binary", default=os.path.join(bench.ROOT, ".build", "release", "mmtrain"))
    p.add_argument("--workloads", default="W1,W2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--w2-samples", type=int, default=512)
    p.add_argument("--dir", default=os.path.join(bench.ROOT, "runs", "bench-compare"))
    a = p.parse_args()
    os.makedirs(os.path.join(a.dir, "runs"), exist_ok=True)
    binaries = {"baseline": os.path.abspath(a.baseline), "binary": os.path.abspath(a.binary)}
    for label, path in binaries.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"bench_compare: --{label} {path} is not an executable")
    b = bench.Bench(argparse.Namespace(dir=a.dir, binary=a.binary, epochs=a.epochs, samples=a.samples, w2_samples=a.w2_samples))
    names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    for n in names:
        if n not in bench.WORKLOADS:
            sys.exit(f"bench_compare: unknown workload {n} ({', '.join(bench.WORKLOADS)})")
        b.data(bench.WORKLOADS[n]["data"])
    results = {}
    for r in range(a.rounds):
        order = list(binaries) if r % 2 == 0 else list(reversed(binaries))
        for n in names:
            for world in (1, 2):
                for label in order:
                    b.bin = binaries[label]
                    t = time.time()
                    res = b.mmtrain(bench.WORKLOADS[n], world)
                    results.setdefault((n, world, label), []).append(res["sps"])
                    print(f"round {r + 1} {n} {world} rank(s) {label}: {res['sps']:.0f} samples/s ({time.time() - t:.0f}s)",
                          file=sys.stderr, flush=True)
    print(f"{a.rounds} interleaved rounds; samples/s best (median); ratio of bests binary / baseline")
    print("| workload | ranks | baseline | binary | ratio |")
    print("|---|---|---|---|---|")
    for n in names:
        for world in (1, 2):
            base, new = results[(n, world, "baseline")], results[(n, world, "binary")]
            print(f"| {n} | {world} | {max(base):.0f} ({statistics.median(base):.0f}) | {max(new):.0f} ({statistics.median(new):.0f}) "
                  f"| {max(new) / max(base):.3f} |")


if __name__ == "__main__":
    main()
