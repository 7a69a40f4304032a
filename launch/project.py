#!/usr/bin/env python3
"""The scaling projection (run it with `bash launch/bench.sh --project`, as root; the Performance article).

1. Measures the gradient sum on shaped links: four network namespaces node1..node4 on a private bridge
   (10.77.9.0/24; nothing else is ever a target), each with its own hostname, one rank per node, OpenMPI's tcp
   BTL between them. Each veth is shaped with `tc ... tbf` at 10 Gbit/s and at 1 Gbit/s, both directions
   (netem adds the 50 us / 200 us delays where the kernel has sch_netem; where it has not, that is printed and
   the links carry the veth's own latency). The probe is the training loop's own path: `cellbench allreduce`
   (GradientExchange over MPICommunicator: MPI_Iallreduce in place, then the wait; the slowest rank's time,
   the fastest of the repetitions, the median beside it), for W1's and W2's
   gradient sizes (276,226 and 3,992,578 floats) and a 1,024-float buffer that pins the latency term, at 2, 3
   and 4 ranks, float32 and `dist.compress: fp16`.
2. Fits the alpha-beta cost of the sum to those points per link: Rabenseifner's reduce-scatter + allgather
   (MPICommunicator sets libnbc's iallreduce algorithm to it), t = 2 log2(p) a + 2 (p-1)/p n b on a power of two p, two more steps of
   a + n b when p is not one (3 ranks: one rank folds into a partner first); prints each point's error, and
   the binomial tree's fit, t = 2 ceil(log2 p) (a + n b), beside it for comparison.
3. Projects W1 and W2 samples/s and weak-scaling efficiency (32 samples per rank per step) at 16, 64 and 256
   ranks on 10, 25 and 100 Gbit/s, from the single-rank step time (the benchmark's 1-rank figure), without
   and with the bucket overlap (the model's buckets: W1's LSTM gradient is ready only when backward ends; W2's
   top layer overlaps the first layer's backward) and with fp16. Per byte: the link's time at the share of
   its rate that TCP reached where the link was the bottleneck (1 Gbit/s), plus the CPU's own cost per byte
   (the rest of the 10 Gbit/s fit); latency: the 10 Gbit/s fit's a.

All it starts is stopped, and the namespaces and bridge are removed, also on failure (try/finally).
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W1, W2, SMALL = 276226, 3992578, 1024
# The model's gradient buckets in the order backward finishes them, and when (share of the 1-rank step):
# forward and backward FLOPs per layer (gemm shapes of the LSTM: 4H(D+H) forward; backward dW_ih, dW_hh and
# dh 4H(D+2H), plus dx 4H D above the first layer).
BUCKETS = {
    "W1": [(258, 537 / 1202), (275968, 1.0)],  # head at backward's start, then the one LSTM layer at its end
    "W2": [(1026, 1945 / 5426), (2101248, (1945 + 2048) / 5426), (1890304, 1.0)],
}
# Single-rank samples/s (32 samples per step): `bash launch/bench.sh --rounds 5`, 2026-12-02, best of rounds
# (the Performance article's table); --w1/--w2 override.
STEP_SAMPLES_PER_S = {"W1": 3135.0, "W2": 179.0}
LINKS = [("10gbit", 10e9, "50us"), ("1gbit", 1e9, "200us")]


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, text=True, capture_output=True, **kw)


class Nodes:
    """A bridge and one namespace per node; `close` removes them (and whatever still runs in them)."""

    def __init__(self, count, tag):
        self.tag, self.names, self.bridge = tag, [f"node{k}" for k in range(1, count + 1)], f"{tag}br"
        self.made = []
        sh(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.made.append(("link", self.bridge))
        sh(["ip", "link", "set", self.bridge, "up"])
        for k, n in enumerate(self.names, 1):
            ns = self.ns(n)
            sh(["ip", "netns", "add", ns])
            self.made.append(("netns", ns))
            sh(["ip", "link", "add", self.veth(n), "type", "veth", "peer", "name", "eth0", "netns", ns])
            sh(["ip", "link", "set", self.veth(n), "master", self.bridge, "up"])
            sh(["ip", "-n", ns, "addr", "add", f"10.77.9.{10 + k}/24", "dev", "eth0"])
            sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])

    def ns(self, n):
        return f"{self.tag}-{n}"

    def veth(self, n):
        return f"{self.tag}v{n[4:]}"

    def shape(self, rate, delay):
        """tbf at `rate` on both ends of every veth (netem `delay` first when the kernel has it); None: unshaped."""
        for n in self.names:
            for dev, ns in ((self.veth(n), None), ("eth0", self.ns(n))):
                pre = ["ip", "netns", "exec", ns] if ns else []
                sh(pre + ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
                if rate is None:
                    continue
                # A 1 ms bucket: smaller ones cost TCP a third of a 1 Gbit/s link here (drops); at 10 Gbit/s it
                # lets 1.25 MB through at the veth's own speed, which here is not much faster (about 7-11 Gbit/s).
                burst = max(int(rate / 8 * 1e-3), 32 * 1024)
                if delay:
                    sh(pre + ["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "netem", "delay", delay])
                    sh(pre + ["tc", "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "tbf", "rate",
                              str(int(rate)), "burst", str(burst), "latency", "100ms"])
                else:
                    sh(pre + ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", str(int(rate)), "burst",
                              str(burst), "latency", "100ms"])

    def close(self):
        for kind, name in reversed(self.made):
            if kind == "netns":
                pids = sh(["ip", "netns", "pids", name], check=False).stdout.split()
                for p in pids:
                    subprocess.run(["kill", "-KILL", p], capture_output=True)
                sh(["ip", "netns", "del", name], check=False)
            else:
                sh(["ip", "link", "del", name], check=False)


def netem_available(nodes):
    """Whether this kernel has sch_netem (tried on node1's interface)."""
    pre = ["ip", "netns", "exec", nodes.ns("node1"), "tc", "qdisc"]
    ok = sh(pre + ["add", "dev", "eth0", "root", "netem", "delay", "50us"], check=False).returncode == 0
    sh(pre + ["del", "dev", "eth0", "root"], check=False)
    return ok


def measure(nodes, agent, cellbench, p, sizes, compress, seconds):
    """Runs the probe on p ranks, one per node (mpirun on node1, the others through the namespace agent)."""
    hosts = ",".join(f"{n}:1" for n in nodes.names[:p])
    env = dict(os.environ, OMPI_MCA_pml="ob1", OMPI_MCA_btl="self,tcp", OMPI_MCA_btl_tcp_if_include="10.77.9.0/24",
               OMPI_MCA_oob_tcp_if_include="10.77.9.0/24", OMPI_MCA_plm_rsh_agent=agent,
               OMPI_MCA_plm_rsh_no_tree_spawn="1", OMPI_MCA_mpi_yield_when_idle="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
    cmd = (f"hostname node1 && exec mpirun -n {p} --host {hosts} --bind-to none {cellbench} allreduce "
           f"{','.join(map(str, sizes))} --compress {compress} --seconds {seconds}")
    r = subprocess.run(["nsenter", f"--net=/run/netns/{nodes.ns('node1')}", "unshare", "--uts", "sh", "-c", cmd],
                       env=env, text=True, capture_output=True, timeout=600)
    rows = {}
    for line in r.stdout.splitlines():
        f = dict(kv.split("=") for kv in line.split()[2:])
        if line.startswith("bench allreduce"):
            rows[int(f["floats"])] = (float(f["min_us"]) * 1e-6, float(f["median_us"]) * 1e-6)
    if r.returncode != 0 or len(rows) != len(sizes):
        sys.exit(f"project: the probe failed on {p} ranks (exit {r.returncode}):\n{r.stdout}\n{r.stderr[-3000:]}")
    return rows


def terms(model, p, nbytes):
    """(latency coefficient, bandwidth coefficient) of one sum of nbytes on p ranks."""
    if model == "rabenseifner":
        # Reduce-scatter + allgather on the largest power of two p' <= p; the r = p - p' ranks beyond it first
        # hand their whole vector to a partner and get the result back at the end (two more steps of n).
        q = 2 ** int(math.log2(p))
        extra = 2 if p > q else 0
        return 2 * math.log2(q) + extra, (2 * (q - 1) / q + extra) * nbytes
    depth = math.ceil(math.log2(p))
    return 2 * depth, 2 * depth * nbytes  # binomial tree: reduce to rank 0, then broadcast


def fit(points, model):
    """Least squares on the relative error, min sum ((a x + b y - t) / t)^2 over the points (p, bytes, t);
    returns a (s), b (s/byte) and each point's error."""
    sxx = sxy = syy = sx = sy = 0.0
    for p, nbytes, t in points:
        x, y = (c / t for c in terms(model, p, nbytes))
        sxx, sxy, syy, sx, sy = sxx + x * x, sxy + x * y, syy + y * y, sx + x, sy + y
    det = sxx * syy - sxy * sxy
    a = max((sx * syy - sy * sxy) / det, 0.0)
    b = max((sy * sxx - sx * sxy) / det, 1e-15)
    errors = [(a * terms(model, p, n)[0] + b * terms(model, p, n)[1] - t) / t for p, n, t in points]
    return a, b, errors


def sum_time(model, a, b, p, nbytes):
    x, y = terms(model, p, nbytes)
    return a * x + b * y


def exposed(model, a, b, p, workload, step, bytes_per_float, overlap):
    """Seconds the step waits for its sums beyond the compute: all of them without overlap; with it, the
    buckets go one after another on the link, each from when backward has finished it."""
    if not overlap:
        total = sum(n for n, _ in BUCKETS[workload])
        return sum_time(model, a, b, p, total * bytes_per_float)
    done = 0.0
    for n, ready in BUCKETS[workload]:
        done = max(done, ready * step) + sum_time(model, a, b, p, n * bytes_per_float)
    return max(0.0, done - step)


def main():
    ap = argparse.ArgumentParser(description="the scaling projection (see the module docstring)")
    ap.add_argument("--cellbench", default=os.path.join(ROOT, ".build", "release", "cellbench"))
    ap.add_argument("--seconds", type=float, default=2.0, help="per size and rank count")
    ap.add_argument("--w1", type=float, default=STEP_SAMPLES_PER_S["W1"], help="W1 1-rank samples/s")
    ap.add_argument("--w2", type=float, default=STEP_SAMPLES_PER_S["W2"], help="W2 1-rank samples/s")
    ap.add_argument("--markdown", help="also write the tables to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("project: must run as root (it creates network namespaces and shapes their links)")
    for tool in ("ip", "tc", "nsenter", "unshare", "mpirun"):
        if not shutil.which(tool):
            sys.exit(f"project: {tool} not found")
    if not os.access(args.cellbench, os.X_OK):
        sys.exit(f"project: {args.cellbench} not found (swift build -c release --product cellbench)")
    out = []

    def say(line=""):
        print(line, flush=True)
        out.append(line)

    tmp = tempfile.mkdtemp(prefix="mmtrain-project.")
    nodes = Nodes(4, f"mmp{os.getpid() % 100000}")
    try:
        delays = netem_available(nodes)
        agent = os.path.join(tmp, "nsrsh")
        with open(agent, "w") as f:  # OpenMPI's "rsh": HOST COMMAND... -> that node's namespaces
            f.write(f'#!/bin/sh\nh=$1; shift\nexec nsenter --net=/run/netns/{nodes.tag}-"$h" unshare --uts '
                    'sh -c "hostname $h && $*"\n')
        os.chmod(agent, 0o755)
        say("measured: cellbench allreduce (GradientExchange, MPI_Iallreduce in place), one rank per node, "
            "tcp BTL on veth pairs shaped with tbf; the slowest rank's time, fastest of >= 5 repetitions (the "
            "median beside it; the host is shared, and the fit wants the network's cost, not the host's stalls)")
        if not delays:
            say("note: this kernel has no sch_netem (tc: 'Specified qdisc kind is unknown'): the 50 us / 200 us "
                "delays are not applied; the links carry the veth's own latency, and a is what the fit finds")
        fits, medians = {}, {}
        for name, rate, delay in LINKS:
            nodes.shape(rate, delay if delays else None)
            for compress, width in (("none", 4), ("fp16", 2)):
                points = []
                for p in (2, 3, 4):
                    rows = measure(nodes, agent, args.cellbench, p, [SMALL, W1, W2], compress, args.seconds)
                    for n, (fastest, median) in rows.items():
                        points.append((p, n * width, fastest))
                        medians[(name, compress, p, n)] = median
                for model in ("rabenseifner", "binomial"):
                    a, b, errors = fit(points, model)
                    rms = math.sqrt(sum(e * e for e in errors) / len(errors))
                    say(f"fit {name} {compress} {model}: a = {a * 1e6:.1f} us, 1/b = {8 / b / 1e9:.2f} Gbit/s; "
                        + ", ".join(f"p={p} {n // width}fl {t * 1e3:.2f}ms (median "
                                    f"{medians[(name, compress, p, n // width)] * 1e3:.2f}) {e:+.0%}"
                                    for (p, n, t), e in zip(points, errors))
                        + f"; rms error {rms:.0%}")
                    if model == "rabenseifner":
                        fits[(name, compress)] = (a, b)
        nodes.shape(None, None)
    finally:
        nodes.close()
        shutil.rmtree(tmp, ignore_errors=True)

    # The projection. Per byte, a sum costs the link's time at the share e of its rate that TCP achieved where
    # the link was the bottleneck (1 Gbit/s), plus what the CPU adds per byte whatever the link (the rest of the
    # 10 Gbit/s fit: copies, the sum itself, float16 conversions): b(R) = b_cpu + 8 / (e R). Latency: the
    # 10 Gbit/s fit's a.
    # e comes from the float32 sums (fp16's 1 Gbit/s fit is partly the CPU's float16 sum, not the link).
    model = "rabenseifner"
    cost = {}
    e = min(8 / fits[("1gbit", "none")][1] / 1e9, 1.0)
    for compress in ("none", "fp16"):
        a10, b10 = fits[("10gbit", compress)]
        b_cpu = max(b10 - 8 / (e * 10e9), 0.0)
        cost[compress] = (a10, b_cpu, e)
        say(f"model {compress}: a = {a10 * 1e6:.1f} us; link share e = {e:.0%} (1 Gbit/s fit); CPU per byte "
            f"{b_cpu * 1e9:.3f} ns (= {8 / b_cpu / 1e9 if b_cpu else float('inf'):.1f} Gbit/s on its own)")
    say()
    say("| workload | link | ranks | fp32, no overlap | fp32, buckets | fp16, buckets |")
    say("|---|---|---|---|---|---|")
    verdict = None
    for workload, sps in (("W1", args.w1), ("W2", args.w2)):
        step = 32 / sps
        for gbit in (10, 25, 100):
            for p in (16, 64, 256):
                cells = []
                for compress, width, overlap in (("none", 4, False), ("none", 4, True), ("fp16", 2, True)):
                    a, b_cpu, e = cost[compress]
                    wait = exposed(model, a, b_cpu + 8 / (e * gbit * 1e9), p, workload, step, width, overlap)
                    eff = step / (step + wait)
                    cells.append(f"{p * 32 / (step + wait):,.0f} samples/s ({eff:.0%})")
                    if (workload, gbit, p, compress, overlap) == ("W1", 25, 64, "none", True):
                        verdict = eff
                say(f"| {workload} | {gbit} Gbit/s | {p} | " + " | ".join(cells) + " |")
    say()
    # What 85% would take: W1's whole gradient summed within 1/0.85 - 1 of the step.
    a, b_cpu, e = cost["none"]
    step = 32 / args.w1
    x, y = terms(model, 64, sum(n for n, _ in BUCKETS["W1"]) * 4)
    b_need = (step * (1 / 0.85 - 1) - a * x) / y
    say(f"W1 at 64 ranks on 25 Gbit/s (fp32, as built): {verdict:.0%} scaling efficiency: "
        + ("meets" if verdict >= 0.85 else "misses") + f" the 85% goal; 85% needs the sum within "
        f"{step * (1 / 0.85 - 1) * 1e3:.2f} ms: at most {b_need * 1e9:.3f} ns per byte, of which the 25 Gbit/s "
        f"link takes {8 / (e * 25e9) * 1e9:.3f}, leaving {max(b_need - 8 / (e * 25e9), 0) * 1e9:.3f} for the CPU "
        f"(measured {b_cpu * 1e9:.3f})")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
