#!/usr/bin/env python3
"""PyTorch reference for `launch/bench.sh`: the model mmtrain trains, as a user would write it in PyTorch.

One process per rank, `torch.set_num_threads(1)`, DistributedDataParallel over gloo when --world > 1.
Reads the same HDF5 file as mmtrain (modalities fused in sorted name order, as mmtrain's default
`data.modalities: []`), each rank its own contiguous block of rows, and trains with the same batch per rank,
optimiser and epochs:

  early   nn.LSTM(D, H, layers) over the fused sequence, hidden state at the last valid step -> nn.Linear(H, C)
  late    one nn.LSTM(D_m, H, layers) per modality, last valid step of each, concatenated -> nn.Linear(M*H, C)

--packed runs the LSTMs on pack_padded_sequence (padded steps skipped), as for varied-length data.
--system e is reference system E instead (`mmtrain synth --example e` data; the ModelZoo article): an image
through Conv2d(3, 64, 3) + ReLU + MaxPool2d(2) -> Conv2d(64, 128, 3) + ReLU + MaxPool2d(2) -> flatten; token
ids through nn.Embedding.from_pretrained(/embeddings/text) -> 2-layer LSTM 128 (packed) -> last step; both
concatenated -> nn.Linear(., 1); BCE with logits; images z-scored per channel at load, as mmtrain's zscore.
Rank 0 prints one JSON line: samples/s over epochs 2.. (epoch 1 is warm-up), per-epoch times, load time.
Launch: `python3 bench_torch.py --rank R --world W --port P ...` once per rank (bench.py does that).
"""
import argparse
import json
import math
import os
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence


def load_rows(path, rank, world):
    """This rank's contiguous block of rows (mmtrain's sharding: rank r owns [r*N/W, (r+1)*N/W))."""
    with h5py.File(path, "r") as f:
        names = sorted(f["modalities"].keys())
        n = f["labels"].shape[0]
        lo, hi = rank * n // world, (rank + 1) * n // world
        xs, lens = [], []
        for m in names:
            xs.append(torch.from_numpy(f["modalities"][m][lo:hi].astype(np.float32, copy=False)))
            if "lengths" in f and m in f["lengths"]:
                lens.append(torch.from_numpy(f["lengths"][m][lo:hi].astype(np.int64)))
            else:
                lens.append(torch.full((hi - lo,), xs[-1].shape[1], dtype=torch.int64))
        y = torch.from_numpy(f["labels"][lo:hi].astype(np.int64))
    return names, xs, lens, y


class EarlyFusion(nn.Module):
    def __init__(self, D, H, layers, C, packed):
        super().__init__()
        self.lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, C)
        self.packed = packed

    def forward(self, xs, lens):
        x = torch.cat(xs, dim=2)                              # (B, T, D) fused
        L = torch.stack(lens).max(0).values.clamp(min=1)      # the longest modality's length
        if self.packed:
            _, (h, _) = self.lstm(pack_padded_sequence(x, L, batch_first=True, enforce_sorted=False))
            return self.head(h[-1])
        out, _ = self.lstm(x)
        return self.head(out[torch.arange(len(x)), L - 1])


class LateFusion(nn.Module):
    def __init__(self, Ds, H, layers, C, packed):
        super().__init__()
        self.lstms = nn.ModuleList(nn.LSTM(D, H, num_layers=layers, batch_first=True) for D in Ds)
        self.head = nn.Linear(len(Ds) * H, C)
        self.packed = packed

    def forward(self, xs, lens):
        pooled = []
        for lstm, x, L in zip(self.lstms, xs, lens):
            present = (L > 0).float().unsqueeze(1)             # an absent modality pools to zeros
            L1 = L.clamp(min=1)
            if self.packed:
                _, (h, _) = lstm(pack_padded_sequence(x, L1, batch_first=True, enforce_sorted=False))
                pooled.append(h[-1] * present)
            else:
                out, _ = lstm(x)
                pooled.append(out[torch.arange(len(x)), L1 - 1] * present)
        return self.head(torch.cat(pooled, dim=1))


def load_e(path, rank, world):
    """System E's rows of this rank: images (z-scored per channel over the file), ids, lengths, labels, table."""
    with h5py.File(path, "r") as f:
        n = f["labels"].shape[0]
        lo, hi = rank * n // world, (rank + 1) * n // world
        images = torch.from_numpy(f["modalities/image"][()].astype(np.float32))
        mean, std = images.mean(dim=(0, 2, 3), keepdim=True), images.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        images = ((images[lo:hi] - mean) / std).contiguous()
        ids = torch.from_numpy(f["modalities/text"][lo:hi].astype(np.int64))
        lengths = torch.from_numpy(f["lengths/text"][lo:hi].astype(np.int64))
        y = torch.from_numpy(f["labels"][lo:hi].astype(np.float32))
        table = torch.from_numpy(f["embeddings/text"][()].astype(np.float32))
    return images, ids, lengths, y, table


class SystemE(nn.Module):
    def __init__(self, table, H, layers, side):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.embed = nn.Embedding.from_pretrained(table, freeze=True)
        self.lstm = nn.LSTM(table.shape[1], H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(128 * (side // 4) ** 2 + H, 1)

    def forward(self, image, ids, L):
        v = self.conv(image).flatten(1)
        packed = pack_padded_sequence(self.embed(ids), L.clamp(min=1), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(torch.cat([v, h[-1]], dim=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--fusion", choices=["early", "late"], default="early")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--batch", type=int, default=32, help="samples per rank per step")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--packed", action="store_true")
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--world", type=int, default=1)
    p.add_argument("--port", type=int, default=29517)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--system", choices=["", "e"], default="")
    a = p.parse_args()
    if a.system == "e":
        return main_e(a)

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    names, xs, lens, y = load_rows(a.data, a.rank, a.world)
    load_s = time.perf_counter() - t0
    if a.world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=a.rank, world_size=a.world)
    C = max(2, int(y.max()) + 1)
    if a.world > 1:
        c = torch.tensor([C]); dist.all_reduce(c, op=dist.ReduceOp.MAX); C = int(c)
    if a.fusion == "early":
        model = EarlyFusion(sum(x.shape[2] for x in xs), a.hidden, a.layers, C, a.packed)
    else:
        model = LateFusion([x.shape[2] for x in xs], a.hidden, a.layers, C, a.packed)
    if a.world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()

    train(a, model, opt, len(y), lambda idx: loss_fn(model([x[idx] for x in xs], [L[idx] for L in lens]), y[idx]),
          load_s)


def train(a, model, opt, n, loss_of, load_s):
    """The timed loop both models share: `a.epochs` epochs of n // a.batch steps (the fewest of any rank), rows
    in a seeded random order per rank; rank 0 prints the JSON line (samples/s over epochs 2..)."""
    steps = n // a.batch                                       # every rank takes the same number of steps
    if a.world > 1:
        s = torch.tensor([steps]); dist.all_reduce(s, op=dist.ReduceOp.MIN); steps = int(s)
    g = torch.Generator().manual_seed(a.seed + a.rank)
    times = []
    for epoch in range(a.epochs):
        order = torch.randperm(n, generator=g)
        if a.world > 1:
            dist.barrier()
        t = time.perf_counter()
        for step in range(steps):
            loss = loss_of(order[step * a.batch:(step + 1) * a.batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t)
    samples = steps * a.batch * a.world
    timed = times[1:] or times
    if a.rank == 0:
        print(json.dumps({
            "samples_per_s": samples * len(timed) / sum(timed), "epoch_s": times, "samples_per_epoch": samples,
            "load_s": load_s, "world": a.world, "torch": torch.__version__, "loss": float(loss.detach()),
        }), flush=True)
    if a.world > 1:
        dist.destroy_process_group()


def main_e(a):
    """Reference system E (see the module docstring), timed as main() times the LSTM workloads."""
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    images, ids, lengths, y, table = load_e(a.data, a.rank, a.world)
    load_s = time.perf_counter() - t0
    if a.world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=a.rank, world_size=a.world)
    model = SystemE(table, a.hidden, a.layers, images.shape[-1])
    if a.world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=a.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    train(a, model, opt, len(y), lambda idx: loss_fn(model(images[idx], ids[idx], lengths[idx])[:, 0], y[idx]), load_s)


if __name__ == "__main__":
    main()
