#!/usr/bin/env python3
"""Training throughput of mmtrain's recurrent layers next to PyTorch's, interleaved in one run.

One layer, forward + backward of loss = sum(out * R) (weight gradients; no dx, it is the first layer), on the
demo shape T=20, D=409 (text 300 + audio 74 + vision 35), B=64, every sample full length, one thread each
(OpenBLAS 1 thread; torch.set_num_threads(1)). Cases: each cell at H=32 and H=128 (add --bi for the
bidirectional layers too). PyTorch has no peephole LSTM: its row is nn.LSTM, the nearest module.
Each round runs every case in Swift then in PyTorch, alternating, so machine load hits both alike;
the table gives the median over rounds in samples/s.

    swift build -c release --product cellbench
    python3 Tests/Fixtures/bench_cells.py [--rounds 3] [--seconds 2] [--bi]
"""

import argparse
import os
import re
import statistics
import subprocess
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T, D, B = 20, 409, 64


def swift_case(cell, H, bi, seconds):
    exe = os.path.join(ROOT, ".build/release/cellbench")
    out = subprocess.run([exe, f"{cell}:{H}{':bi' if bi else ''}", "--seconds", str(seconds)], capture_output=True,
                         text=True, cwd=ROOT)
    m = re.search(r"samples_per_s=([0-9.]+)", out.stdout + out.stderr)
    if not m:
        raise SystemExit(f"no benchmark line from {exe} (run `swift build -c release --product cellbench` first):\n{out.stdout}{out.stderr}")
    return float(m.group(1))


def torch_case(cell, H, bi, seconds):
    torch.manual_seed(1)
    rnn = (nn.GRU if cell == "gru" else nn.LSTM)(D, H, bidirectional=bi)     # time-major (T, B, D)
    x = torch.randn(T, B, D)
    R = torch.randn(T, B, H * (2 if bi else 1))

    def step():
        rnn.zero_grad(set_to_none=False)
        out, _ = rnn(x)
        (out * R).sum().backward()

    for _ in range(3):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n * B / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--bi", action="store_true", help="also the bidirectional layers")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cases = [(c, H, False) for c in ["lstm", "lstm_peephole", "gru"] for H in [32, 128]]
    if a.bi:
        cases += [(c, H, True) for c in ["lstm", "gru"] for H in [32, 128]]
    swift = {k: [] for k in cases}
    pt = {k: [] for k in cases}
    for r in range(a.rounds):
        for k in cases:
            swift[k].append(swift_case(*k, a.seconds))
            pt[k].append(torch_case(*k, a.seconds))
            print(f"round {r + 1} {k[0]:>13} H={k[1]:<3} bi={k[2]!s:<5}  swift {swift[k][-1]:8.1f}  torch {pt[k][-1]:8.1f} samples/s", flush=True)
    print(f"\nmedian samples/s over {a.rounds} rounds, T={T} D={D} B={B}, one thread, torch {torch.__version__}")
    print(f"{'cell':>13} {'H':>4} {'bi':>5} {'mmtrain':>9} {'pytorch':>9} {'ratio':>6}   pytorch module")
    for k in cases:
        s, p = statistics.median(swift[k]), statistics.median(pt[k])
        mod = ("nn.GRU" if k[0] == "gru" else "nn.LSTM") + (" (no peephole in torch)" if k[0] == "lstm_peephole" else "")
        print(f"{k[0]:>13} {k[1]:>4} {k[2]!s:>5} {s:9.1f} {p:9.1f} {s / p:6.2f}   {mod}")


if __name__ == "__main__":
    main()
