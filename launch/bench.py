#!/usr/bin/env python3
"""The mmtrain benchmark (run it with `bash launch/bench.sh`; the Performance article, Sources/mmtrain/Documentation.docc/Performance.md).

For each workload it trains mmtrain (release build, under mpirun) and the PyTorch reference
(launch/bench_torch.py, DDP over gloo, one thread per rank) on the same HDF5 file with the same batch per
rank, optimiser and epochs, at 1 and 2 ranks, plus two independent 1-rank mmtrain runs started together
(`--bind-to none`: the machine's own ceiling for 2 ranks). Runs are interleaved in rounds (the order
rotates each round); each figure is the best over rounds, with the median and spread alongside.

  W1  synth 2048 samples, 50 steps, modalities 300/74/35, 2 classes; early fusion, LSTM 128, 1 layer,
      last-step pooling, Linear head; Adam lr 1e-3; normalisation off; 32 samples per rank per step
  W2  W1 with hidden 512, 2 layers (on --w2-samples samples: the same per-sample work, a shorter run)
  W3  late fusion, LSTM 128 per modality, Linear head on the concatenation
  W4  W1 with lengths uniform in 5..50 and data.align: pad (PyTorch: pack_padded_sequence)
  W5  reference system E (configs/examples/e.yaml) on `mmtrain synth --example e` data (--w5-samples): an image
      3x32x32 through Conv 3->64 and 64->128 (3x3, ReLU, MaxPool 2) beside token ids [40] (lengths 20..40)
      through frozen pretrained 100-d vectors into a 2-layer LSTM 128, late fusion, Linear 1, BCE; Adam lr 1e-3;
      images z-scored per channel (PyTorch: nn.Conv2d, nn.Embedding.from_pretrained, pack_padded_sequence)

Figures: samples/s over epochs 2.. (epoch 1 warms up); mmtrain GFLOP/s per rank from the model's forward
and backward matrix FLOPs over valid steps; the single-core sgemm roof (1024^3, launch/bench_sgemm.c,
the OpenBLAS mmtrain links) measured in each round; MPI wait share of the step time (metrics.jsonl
mpi_wait_s / train_s); start-up and load GB/s of a rank (startup_s, load_s, load_bytes); peak RSS per rank.
At 2 ranks also: one blocking all-reduce instead of buckets (MMTRAIN_GRADIENT_BUCKETS=0; W1, W3), each rank
taking only its own rows of a batch (MMTRAIN_BALANCE=0; W1, W3) and the float16 all-reduce (dist.compress: fp16;
W1): what each of those buys. And dist.world_invariant: true (the default) at 1 and 2 ranks, interleaved with false: its
cost and peak RSS (`--invariant` runs only those rows, on and off).
"""
import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOADS = {
    "W1": dict(data="w1", fusion="early", hidden=128, layers=1, packed=False),
    "W2": dict(data="w2", fusion="early", hidden=512, layers=2, packed=False),
    "W3": dict(data="w1", fusion="late", hidden=128, layers=1, packed=False),
    "W4": dict(data="w4", fusion="early", hidden=128, layers=1, packed=True),
    "W5": dict(data="w5", fusion="late", hidden=128, layers=2, packed=True, system="e"),
}
E_SIDE, E_CHANNELS, E_EMBED = 32, [3, 64, 128], 100  # synth --example e: 3x32x32 images, 100-d vectors
FEATURES = {"audio": 74, "text": 300, "vision": 35}  # sorted names: mmtrain's default fused order
STEPS, BATCH = 50, 32
STREAM_MB = 64  # data.stream_buffer_mb of the stream row
LAYOUTS = {  # h5py create_dataset options of the /modalities datasets in the start-up table
    "contiguous": {},
    "chunks (64, 50, D)": dict(chunks=True),
    "gzip-4 + shuffle (h5py's chunking)": dict(compression="gzip", compression_opts=4, shuffle=True),
}
H5PY_READ = """
import sys, time, h5py
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with h5py.File(path, "r") as f:
    t = time.perf_counter()
    n = sum(f["modalities"][m][lo:hi].nbytes for m in sorted(f["modalities"]))
    print(n, time.perf_counter() - t)
"""


def sh(cmd, env=None, **kw):
    return subprocess.run(cmd, env=env, check=True, text=True, capture_output=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# MARK: - FLOPs

def lstm_flops(din, h, steps, first):
    """Matrix FLOPs of one LSTM layer per sample, forward + backward (2 per multiply-add)."""
    g = 4 * h
    fwd = 2 * steps * g * (din + h)                      # x W_ih^T, h W_hh^T
    bwd = 2 * steps * g * (din + h) + 2 * steps * g * h  # dW_ih, dW_hh; dh_{t-1}
    if not first:
        bwd += 2 * steps * g * din                       # dx (the first layer's input needs none)
    return fwd + bwd


def conv_flops():
    """System E's convolutions per image, forward + backward: each stage's im2col GEMM, its weight gradient, and
    its input gradient except the first stage's (the image needs none)."""
    f, side = 0, E_SIDE
    for k, (cin, cout) in enumerate(zip(E_CHANNELS, E_CHANNELS[1:])):
        gemm = 2 * cin * 9 * cout * side * side
        f += gemm * (2 if k == 0 else 3)
        side //= 2
    return f


def model_flops(w, mean_steps):
    H, L = w["hidden"], w["layers"]
    if w.get("system") == "e":  # the frozen embedding needs no dx into it: its first layer counts as first
        lstm = sum(lstm_flops(E_EMBED if k == 0 else H, H, mean_steps, k == 0) for k in range(L))
        fused = E_CHANNELS[-1] * (E_SIDE // 4) ** 2 + H
        return conv_flops() + lstm + 3 * 2 * fused
    if w["fusion"] == "early":
        D = sum(FEATURES.values())
        f = sum(lstm_flops(D if k == 0 else H, H, mean_steps, k == 0) for k in range(L))
        return f + 3 * 2 * H * 2
    f = 0
    for D in FEATURES.values():
        f += sum(lstm_flops(D if k == 0 else H, H, mean_steps, k == 0) for k in range(L))
    return f + 3 * 2 * 3 * H * 2


# MARK: - Runs

class Bench:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.abspath(a.dir)
        self.bin = os.path.abspath(a.binary)
        self.env = dict(os.environ)
        self.runs = 0

    def mpirun(self, n, bind="core"):
        return ["mpirun", "-n", str(n), "--bind-to", bind, "--oversubscribe"]

    def data(self, name):
        path = os.path.join(self.dir, name + ".h5")
        if os.path.exists(path):
            return path
        if name == "w5":
            sh([self.bin, "synth", "--example", "e", "--out", path, "--samples", str(self.a.w5_samples)], env=self.env)
            return path
        samples = self.a.w2_samples if name == "w2" else self.a.samples
        minlen = 5 if name == "w4" else STEPS
        sh([self.bin, "synth", "--out", path, "--samples", str(samples), "--steps", str(STEPS), "--audio-rate", "1",
            "--min-length", str(minlen)], env=self.env)
        return path

    def layout(self, name):
        """W1's data with its /modalities datasets rewritten by h5py as LAYOUTS[name] says (other datasets as they are)."""
        import h5py
        path = os.path.join(self.dir, "w1-" + "".join(c for c in name.split(" (")[0] if c.isalnum()) + ".h5")
        if os.path.exists(path):
            return path
        with h5py.File(self.data("w1"), "r") as f, h5py.File(path + ".tmp", "w") as g:
            def copy(key, obj):
                if not isinstance(obj, h5py.Dataset):
                    return
                options = dict(LAYOUTS[name]) if key.startswith("modalities/") else {}
                if options.get("chunks") is True:
                    options["chunks"] = (64,) + obj.shape[1:]
                g.create_dataset(key, data=obj[()], **options)
                for k, v in obj.attrs.items():
                    g[key].attrs[k] = v
            f.visititems(copy)
        os.replace(path + ".tmp", path)
        return path

    def startup(self, layout, world, mmap=True):
        """mmtrain's load rate (GB/s of a rank) on a layout, normalize zscore: one short epoch of a small model.
        `mmap`: data.mmap (the default reads uncompressed rows in place; false copies them into memory)."""
        run = self.new_run()
        cfg = run + ".yaml"
        with open(cfg, "w") as f:
            f.write(f"""data: {{path: "{self.layout(layout)}", steps: {STEPS}, align: pad, normalize: zscore, validation_fraction: 0, mmap: {str(mmap).lower()}}}
model: {{fusion: early, hidden: 8, layers: 1, pooling: last}}
task: {{kind: multiclass}}
train: {{epochs: 1, batch_size: {256 * world}, optimizer: adam, lr: 0.001, seed: 42}}
checkpoint: {{dir: "{run}", every_epochs: 1000, keep: 1}}
""")
        cmd = self.mpirun(world) + [self.bin, "train", "--config", cfg, "--progress", "lines"]
        p = subprocess.run(cmd, env=self.env, text=True, capture_output=True)
        if p.returncode != 0:
            sys.exit(f"bench: mmtrain failed ({' '.join(cmd)}):\n{p.stdout}\n{p.stderr}")
        r = self.mm_result(run)
        return r["load_bytes"] / 1e9 / max(r["load_s"], 1e-9)

    def h5py_read(self, layout, world):
        """h5py reading each rank's rows (mmtrain's sharding) of every modality whole, `world` processes at once:
        GB/s of the slowest."""
        import h5py
        path = self.layout(layout)
        with h5py.File(path, "r") as f:
            n = f["labels"].shape[0]
        bounds = [(r * (n // world) + min(r, n % world), (r + 1) * (n // world) + min(r + 1, n % world)) for r in range(world)]
        procs = [subprocess.Popen([sys.executable, "-c", H5PY_READ, path, str(lo), str(hi)], stdout=subprocess.PIPE, text=True)
                 for lo, hi in bounds]
        outs = [p.communicate()[0].split() for p in procs]
        return min(int(b) / 1e9 / float(t) for b, t in outs)

    def mean_steps(self, name):
        import h5py
        import numpy as np
        with h5py.File(self.data(name), "r") as f:
            L = np.max(np.stack([f["lengths"][m][()] for m in f["lengths"]]), axis=0)
        return float(np.maximum(L, 1).mean())

    def config(self, w, world, run, compress="none", stream=0, invariant=False):
        if w.get("system") == "e":
            path = run + ".yaml"
            with open(path, "w") as f:
                f.write(f"""data: {{path: "{self.data(w['data'])}", steps: {{text: 40}}, align: pad, normalize: zscore, validation_fraction: 0}}
model: {{fusion: late, cell: lstm, hidden: {{text: {w['hidden']}}}, layers: {w['layers']}, pooling: last, head_hidden: 0,
  encoders: {{image: {{kind: conv, channels: [{E_CHANNELS[1]}, {E_CHANNELS[2]}], kernel: 3, pool: 2}}}}, embed: {{text: {{size: {E_EMBED}}}}}}}
task: {{kind: binary}}
train: {{epochs: {self.a.epochs}, batch_size: {BATCH * world}, optimizer: adam, lr: 0.001, seed: 42}}
checkpoint: {{dir: "{run}", every_epochs: 1000, keep: 1}}
dist: {{compress: {compress}, world_invariant: {str(invariant).lower()}}}
""")
            return path
        fusion = w["fusion"]
        head = ", head_hidden: 0" if fusion != "early" else ""
        streamed = f", stream: true, stream_buffer_mb: {stream}" if stream else ""
        path = run + ".yaml"
        with open(path, "w") as f:
            f.write(f"""data: {{path: "{self.data(w['data'])}", steps: {STEPS}, align: pad, normalize: none, validation_fraction: 0{streamed}}}
model: {{fusion: {fusion}, hidden: {w['hidden']}, layers: {w['layers']}, pooling: last{head}}}
task: {{kind: multiclass}}
train: {{epochs: {self.a.epochs}, batch_size: {BATCH * world}, optimizer: adam, lr: 0.001, seed: 42}}
checkpoint: {{dir: "{run}", every_epochs: 1000, keep: 1}}
dist: {{compress: {compress}, world_invariant: {str(invariant).lower()}}}
""")
        return path

    def new_run(self):
        self.runs += 1
        run = os.path.join(self.dir, "runs", f"r{self.runs:03d}")
        shutil.rmtree(run, ignore_errors=True)
        return run

    def mm_cmd(self, w, world, bind="core", compress="none", stream=0, invariant=False):
        run = self.new_run()
        cfg = self.config(w, world, run, compress, stream, invariant)
        return run, self.mpirun(world, bind) + [self.bin, "train", "--config", cfg, "--progress", "lines"]

    def mm_result(self, run):
        lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        timed = [l for l in lines if l["epoch"] >= 2] or lines
        train_s = sum(l["train_s"] for l in timed)
        samples = sum(l["samples_per_s"] * l["train_s"] for l in timed)
        last = lines[-1]
        return dict(sps=samples / train_s, wait=sum(l["mpi_wait_s"] for l in timed) / train_s,
                    moved=sum(l.get("balance_moved", 0) for l in timed) / len(timed),
                    startup=last["startup_s"], load_s=last["load_s"], load_bytes=last["load_bytes"],
                    rss=last["peak_rss_mb"])

    def mmtrain(self, w, world, env=None, compress="none", stream=0, invariant=False):
        """stream: data.stream with a buffer of this many MB (0: the shard in memory); invariant: dist.world_invariant."""
        run, cmd = self.mm_cmd(w, world, compress=compress, stream=stream, invariant=invariant)
        p = subprocess.run(cmd, env=dict(self.env, **(env or {})), text=True, capture_output=True)
        if p.returncode != 0:
            sys.exit(f"bench: mmtrain failed ({' '.join(cmd)}):\n{p.stdout}\n{p.stderr}")
        return self.mm_result(run)

    def pair(self, w):
        """Two independent 1-rank runs started together: the sum of their samples/s."""
        started = [self.mm_cmd(w, 1, bind="none") for _ in range(2)]
        procs = [subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _, cmd in started]
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                sys.exit(f"bench: mmtrain (pair) failed:\n{out}\n{err}")
        return dict(sps=sum(self.mm_result(run)["sps"] for run, _ in started))

    def torch(self, w, world):
        port = free_port()
        base = [sys.executable, os.path.join(ROOT, "launch", "bench_torch.py"), "--data", self.data(w["data"]),
                "--fusion", w["fusion"], "--hidden", str(w["hidden"]), "--layers", str(w["layers"]),
                "--batch", str(BATCH), "--epochs", str(self.a.epochs), "--world", str(world), "--port", str(port)]
        if w["packed"]:
            base.append("--packed")
        if w.get("system"):
            base += ["--system", w["system"]]
        env = dict(self.env, OMP_NUM_THREADS="1")
        procs = [subprocess.Popen(base + ["--rank", str(r)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for r in range(world)]
        outs = [p.communicate() for p in procs]
        for p, (out, err) in zip(procs, outs):
            if p.returncode != 0:
                sys.exit(f"bench: PyTorch reference failed:\n{out}\n{err}")
        return dict(sps=json.loads(outs[0][0].strip().splitlines()[-1])["samples_per_s"])

    def roof(self):
        exe = os.path.join(self.dir, "sgemm")
        if not os.path.exists(exe):
            cflags = sh(["pkg-config", "--cflags", "--libs", "openblas"]).stdout.split()
            sh(["cc", "-O2", os.path.join(ROOT, "launch", "bench_sgemm.c"), *cflags, "-lm", "-o", exe])
        return json.loads(sh([exe, "1024", "5"], env=self.env).stdout)

    def choose_kernel(self):
        """OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE pinned by the environment: unset them for the benchmark's runs
        when OpenBLAS's own choice passes the accuracy check and is faster; the kernel is printed either way."""
        pinned = {k: v for k, v in self.env.items() if k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        if not pinned:
            return self.roof(), ""
        with_pin = self.roof()
        for k in pinned:
            del self.env[k]
        free = self.roof()
        if free["max_rel_err"] < 1e-5 and free["gflops"] > with_pin["gflops"]:
            return free, f"unset {', '.join(f'{k}={v}' for k, v in pinned.items())} (pinned {with_pin['core']}: {with_pin['gflops']:.1f} GFLOP/s)"
        self.env.update(pinned)
        return with_pin, f"kept {', '.join(f'{k}={v}' for k, v in pinned.items())}"


def lockstep(n, batch, trials=20000):
    """Mean of max(rows of shard 0, rows of shard 1) / (batch / 2) over random global batches (mmtrain's
    sampler: a permutation of all rows, each rank takes the rows of the batch it owns)."""
    import random
    rng = random.Random(1)
    total = 0
    for _ in range(trials):
        k = sum(1 for r in rng.sample(range(n), batch) if r < n // 2)
        total += max(k, batch - k)
    return total / trials / (batch / 2)


def fmt(values, digits=0):
    best = max(values)
    if len(values) == 1:
        return f"{best:.{digits}f}"
    return f"{best:.{digits}f} (med {statistics.median(values):.{digits}f}, {min(values):.{digits}f}–{max(values):.{digits}f})"


def startup_table(b, rounds, settle=3.0):
    """The start-up table: mmtrain's load rate vs h5py's read, per layout and rank count, best of `rounds`; each
    round measures both back to back, then both again after `settle` seconds idle. In a VM whose host takes freed
    memory back, the memory a process maps first is then cold: h5py's numpy arrays ask for transparent huge pages,
    and a cold 2 MB page costs far more than a cold 4 KB one (the Performance article), so the two orders of
    events rank the readers differently. A real start finds its node's memory as the second case does."""
    rates, load = {}, [os.getloadavg()[0]]  # the host's 1-minute load average, before and after
    for r in range(rounds):
        for layout in LAYOUTS:
            for world in (1, 2):
                mm, py, copied = b.startup(layout, world), b.h5py_read(layout, world), b.startup(layout, world, mmap=False)
                time.sleep(settle)
                mm_idle = b.startup(layout, world)
                time.sleep(settle)
                py_idle = b.h5py_read(layout, world)
                for k, v in (("mm", mm), ("py", py), ("copied", copied), ("mm idle", mm_idle), ("py idle", py_idle)):
                    rates.setdefault((layout, world, k), []).append(v)
                print(f"round {r + 1} {layout} {world} rank(s): mmtrain {mm:.2f} GB/s, h5py {py:.2f} GB/s, data.mmap "
                      f"false {copied:.2f}; after {settle:g} s idle: mmtrain {mm_idle:.2f}, h5py {py_idle:.2f}",
                      file=sys.stderr, flush=True)
    load.append(os.getloadavg()[0])
    sizes = {layout: os.path.getsize(b.layout(layout)) / 1e6 for layout in LAYOUTS}
    lines = [f"start-up by file layout: W1's data ({b.a.samples} x {STEPS} steps, {sum(FEATURES.values())} features) rewritten "
             f"with h5py; load rate of a rank, normalize zscore; best of {rounds} (min–max); target mmtrain >= 0.8x h5py; "
             f"{os.cpu_count()} cores, load average {load[0]:.1f} before, {load[1]:.1f} after",
             "", "| file (size) | ranks | mmtrain load | h5py read of the same rows | ratio | data.mmap false (copied) | ratio "
             f"| after {settle:g} s idle: mmtrain | h5py | ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    span = lambda v: f"{max(v):.2f} GB/s ({min(v):.2f}–{max(v):.2f})"
    for layout in LAYOUTS:
        for world in (1, 2):
            mm, py = rates[(layout, world, "mm")], rates[(layout, world, "py")]
            mi, pi = rates[(layout, world, "mm idle")], rates[(layout, world, "py idle")]
            cp = rates[(layout, world, "copied")]
            lines.append(f"| {layout} ({sizes[layout]:.0f} MB) | {world} | {span(mm)} | {span(py)} | {max(mm) / max(py):.2f} "
                         f"| {span(cp)} | {max(cp) / max(py):.2f} | {span(mi)} | {span(pi)} | {max(mi) / max(pi):.2f} |")
    return lines


def invariant_table(results, names):
    """dist.world_invariant on (the default) vs off, from the same rounds: samples/s, cost (1 - on / off, of the
    bests and of the medians; and per round, which runs both, with the median of those: the paired cost, which a
    host's drift between rounds moves least), MPI wait and peak RSS per rank."""
    rows = [(n, world) for n in names for world in (1, 2) if f"mm{world}inv" in results[n]]
    if not rows:
        return []
    lines = ["| workload | ranks | off samples/s | on samples/s | cost (best; median) | paired cost per round (median) "
             "| MPI wait off / on | peak RSS off / on |",
             "|---|---|---|---|---|---|---|---|"]
    for n, world in rows:
        off, on = results[n][f"mm{world}"], results[n][f"mm{world}inv"]
        so, sn = [x["sps"] for x in off], [x["sps"] for x in on]
        cost = (1 - max(sn) / max(so)) * 100
        cost_med = (1 - statistics.median(sn) / statistics.median(so)) * 100
        wait = lambda runs: statistics.median(x["wait"] * 100 for x in runs)
        rss = lambda runs: max(x["rss"] for x in runs)
        paired = [(1 - b / a) * 100 for a, b in zip(so, sn)]
        per_round = ", ".join(f"{c:.1f}" for c in paired)
        lines.append(f"| {n} | {world} | {fmt(so)} | {fmt(sn)} | {cost:.1f}%; {cost_med:.1f}% | {per_round} "
                     f"({statistics.median(paired):.1f}%) | {wait(off):.1f}% / {wait(on):.1f}% | "
                     f"{rss(off):.0f} / {rss(on):.0f} MB |")
    return lines


def main():
    p = argparse.ArgumentParser(description="mmtrain vs PyTorch DDP on CPU (see the module docstring).")
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3, help="epochs per run; epoch 1 is warm-up")
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--w2-samples", type=int, default=512)
    p.add_argument("--w5-samples", type=int, default=512)
    p.add_argument("--dir", default=os.path.join(ROOT, "runs", "bench"))
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "mmtrain"))
    p.add_argument("--no-torch", action="store_true", help="mmtrain only")
    p.add_argument("--no-pair", action="store_true", help="skip the two independent 1-rank runs")
    p.add_argument("--markdown", help="also write the table to this file")
    p.add_argument("--startup-only", action="store_true", help="only the start-up table by file layout (no training runs)")
    p.add_argument("--invariant", action="store_true",
                   help="only mmtrain at 1 and 2 ranks with dist.world_invariant off and on (its cost; no PyTorch, no start-up table)")
    a = p.parse_args()
    os.makedirs(os.path.join(a.dir, "runs"), exist_ok=True)
    b = Bench(a)
    if a.startup_only:
        text = "\n".join(startup_table(b, a.rounds))
        print(text)
        if a.markdown:
            with open(a.markdown, "w") as f:
                f.write(text + "\n")
        return
    roof0, kernel_note = b.choose_kernel()
    names = [n.strip() for n in a.workloads.split(",") if n.strip()]
    for n in names:
        if n not in WORKLOADS:
            sys.exit(f"bench: unknown workload {n} (W1, W2, W3, W4, W5)")
        b.data(WORKLOADS[n]["data"])
    results = {n: {} for n in names}
    roofs = [roof0["gflops"]]
    kinds = ["mm1", "mm2"] + ([] if a.no_torch else ["pt1", "pt2"]) + ([] if a.no_pair else ["pair"]) + ["mm2flat", "mm2own", "mm2fp16", "mm1stream"]
    kinds += ["mm1inv", "mm2inv"]
    if a.invariant:
        kinds = ["mm1", "mm1inv", "mm2", "mm2inv"]
    for r in range(a.rounds):
        roofs.append(b.roof()["gflops"])
        for n in names:
            w = WORKLOADS[n]
            order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
            for k in order:
                if k in ("mm2flat", "mm2own") and n not in ("W1", "W3"):
                    continue  # the blocking all-reduce and unbalanced baselines: where they could matter, not everywhere
                if k in ("mm2fp16", "mm1stream") and n != "W1":
                    continue
                t = time.time()
                if k == "mm1": res = b.mmtrain(w, 1)
                elif k == "mm2": res = b.mmtrain(w, 2)
                elif k == "pt1": res = b.torch(w, 1)
                elif k == "pt2": res = b.torch(w, 2)
                elif k == "mm2flat": res = b.mmtrain(w, 2, env={"MMTRAIN_GRADIENT_BUCKETS": "0"})
                elif k == "mm2own": res = b.mmtrain(w, 2, env={"MMTRAIN_BALANCE": "0"})
                elif k == "mm2fp16": res = b.mmtrain(w, 2, compress="fp16")
                elif k == "mm1stream": res = b.mmtrain(w, 1, stream=STREAM_MB)
                elif k == "mm1inv": res = b.mmtrain(w, 1, invariant=True)
                elif k == "mm2inv": res = b.mmtrain(w, 2, invariant=True)
                else: res = b.pair(w)
                results[n].setdefault(k, []).append(res)
                print(f"round {r + 1} {n} {k}: {res['sps']:.0f} samples/s ({time.time() - t:.0f}s)", file=sys.stderr, flush=True)

    invariant = invariant_table(results, names)
    if a.invariant:
        text = "\n".join([f"{a.rounds} interleaved round(s); best (median); epochs 2..{a.epochs} timed; {BATCH} samples per rank "
                          f"per step; OpenBLAS kernel {roof0['core']}", ""] + invariant)
        print(text)
        if a.markdown:
            with open(a.markdown, "w") as f:
                f.write(text + "\n")
        return
    roof = max(roofs)
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; OpenBLAS kernel {roof0['core']}"
        + (f" ({kernel_note})" if kernel_note else ""),
        f"sgemm roof (1 core, 1024^3, best of {len(roofs)} measured in this run): {roof:.1f} GFLOP/s",
        f"{a.rounds} interleaved round(s); best (median, min–max); epochs 2..{a.epochs} timed; {BATCH} samples per rank per step",
        "",
        "| workload | ranks | mmtrain samples/s | PyTorch samples/s | ratio | GFLOP/s per rank (of roof) | MPI wait (one blocking all-reduce) | scaling 1→2 (vs 2 independent) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    startup = []
    for n in names:
        R = results[n]
        flops = model_flops(WORKLOADS[n], b.mean_steps(WORKLOADS[n]["data"]))
        for world in (1, 2):
            mm = [x["sps"] for x in R[f"mm{world}"]]
            pt = [x["sps"] for x in R.get(f"pt{world}", [])]
            ratio = f"{max(mm) / max(pt):.2f}×" if pt else "–"
            gf = [s * flops / world / 1e9 for s in mm]
            wait = [x["wait"] * 100 for x in R[f"mm{world}"]]
            flat = [x["wait"] * 100 for x in R.get("mm2flat", [])] if world == 2 else []
            scaling = "–"
            if world == 2 and "pair" in R:
                pair = max(x["sps"] for x in R["pair"])
                scaling = f"{max(mm) / max(x['sps'] for x in R['mm1']) / 2 * 100:.0f}% of 2×1-rank; {max(mm) / pair * 100:.0f}% of the pair ({pair:.0f})"
            lines.append(f"| {n} | {world} | {fmt(mm)} | {fmt(pt) if pt else '–'} | {ratio} | {max(gf):.1f} ({max(gf) / roof * 100:.0f}%) | "
                         f"{statistics.median(wait):.1f}%" + (f" ({statistics.median(flat):.1f}%)" if flat else "") + f" | {scaling} |")
        one, two = R["mm1"], R["mm2"]
        best = min(one, key=lambda x: x["startup"])
        rates = sorted(x["load_bytes"] / 1e9 / max(x["load_s"], 1e-9) for x in one)
        rss = lambda runs: f"{max(x['rss'] for x in runs):.0f} MB (limit {1.25 * runs[0]['load_bytes'] / 1e6 + 150:.0f})"
        startup.append(f"| {n} | {best['startup']:.2f} s | {best['load_s']:.2f} s | {rates[-1]:.2f} GB/s (med {statistics.median(rates):.2f}; "
                       f"{best['load_bytes'] / 1e6:.0f} MB) | {rss(one)} | {rss(two)} |")
    lines += ["", "| workload | start-up (1 rank) | load | load rate (shard) | peak RSS per rank, 1 rank (1.25 x shard + 150 MB) | 2 ranks |",
              "|---|---|---|---|---|---|"] + startup
    variants = [n for n in names if "mm2own" in results[n] or "mm2fp16" in results[n]]
    if variants:
        lines += ["", "| workload, 2 ranks | balanced (as built) | own rows only (MMTRAIN_BALANCE=0) | fp16 all-reduce (dist.compress) |",
                  "|---|---|---|---|"]
        for n in variants:
            R = results[n]
            def cell(k):
                if k not in R:
                    return "–"
                sps = [x["sps"] for x in R[k]]
                wait = statistics.median(x["wait"] * 100 for x in R[k])
                moved = statistics.median(x["moved"] for x in R[k])
                return f"{fmt(sps)} samples/s, MPI wait {wait:.1f}%, {moved:.0f} rows moved/epoch"
            lines.append(f"| {n} | {cell('mm2')} | {cell('mm2own')} | {cell('mm2fp16')} |")
    lines += ["", f"without balancing, a global batch of {2 * BATCH} random rows splits unevenly between the two shards and "
              f"the step waits for the larger part, on average {lockstep(a.samples, 2 * BATCH):.3f} x {BATCH} rows; "
              f"balanced, each rank processes {BATCH}"]
    for n in names:
        if "mm1stream" not in results[n]:
            continue
        mem, st = results[n]["mm1"], results[n]["mm1stream"]
        lines += ["", f"| {n}, 1 rank | samples/s | peak RSS |", "|---|---|---|",
                  f"| in memory | {fmt([x['sps'] for x in mem])} | {max(x['rss'] for x in mem):.0f} MB |",
                  f"| stream (data.stream, {STREAM_MB} MB buffer; file page-cached) | {fmt([x['sps'] for x in st])} "
                  f"({max(x['sps'] for x in st) / max(x['sps'] for x in mem) * 100:.0f}% of in memory) | "
                  f"{max(x['rss'] for x in st):.0f} MB |"]
    lines += [""] + invariant + [""] + startup_table(b, a.rounds)
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
