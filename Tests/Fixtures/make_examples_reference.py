#!/usr/bin/env python3
"""PyTorch's accuracy on the model zoo's reference systems (configs/examples), for ReferenceAccuracyTests.

For each system: `mmtrain synth --example E` writes a training file and a test file (other seed); the
system's PyTorch module (zoo_modules.MultimodalModel, the spec its config gives) trains on every training row
with the config's recipe (Adam, lr, batch size, epochs; z-scored features with the training rows' statistics
over valid steps, as mmtrain's data.normalize: zscore), then scores the test file. Written to
Tests/Fixtures/examples_reference.json: per system its overrides (smaller sizes than the configs, for a debug
build: `sets`), data sizes and seeds, PyTorch's test accuracy (the mean over 3 seeds) and its parameter count.

Run from the repo root, after `swift build`: python3 Tests/Fixtures/make_examples_reference.py [--bin PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_modules import MultimodalModel, loss_fn, step_loss_fn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# Per system: its config's architecture and task (configs/examples/<system>.yaml), the data sizes, epochs,
# and `sets`: the config keys changed for a debug build's test (also applied to the PyTorch module).
SYSTEMS = {
    "a": dict(example="a", task="binary", target="step", C=1, cell="lstm", hidden=64, head=[32, 16], epochs=12,
              train=320, test=60, sets={}),
    "b": dict(example="b", task="multiclass", target="step", C=10, cell="lstm", hidden=128, head=[], epochs=12,
              train=320, test=60, sets={}),
    "c": dict(example="c", task="binary", target="sample", C=1, cell="lstm", hidden=[32, 16], head=[], epochs=20,
              train=640, test=200, sets={"model.hidden": "[32, 16]"}),
    "c-gru": dict(example="c", task="binary", target="sample", C=1, cell="gru", hidden=[32, 16], head=[], epochs=20,
                  train=640, test=200, sets={"model.hidden": "[32, 16]"}),
    "d": dict(example="d", task="multiclass", target="sample", C=10, cell="lstm", hidden=[128, 128], head=[],
              epochs=12, train=320, test=200, sets={}),
    # E: an image through a conv encoder and token ids through the file's pretrained (frozen) vectors into a
    # 2-layer LSTM, late fusion, Linear 1 (run_e); narrower for a debug build.
    "e": dict(example="e", task="binary", target="sample", C=1, cell="lstm", hidden=32, channels=[8, 16], head=[],
              epochs=12, train=800, test=200, lr=0.001,
              sets={"model.encoders": "{image: {kind: conv, channels: [8, 16]}}", "model.hidden": "{text: 32}"}),
}
TRAIN_SEED, TEST_SEED, LR, BATCH = 1, 2, 0.003, 32


def load(path):
    with h5py.File(path, "r") as f:
        return (torch.tensor(f["/modalities/x"][()], dtype=torch.float64), torch.tensor(f["/lengths/x"][()]),
                torch.tensor(f["/labels"][()]))


def spec_of(s, features, steps):
    return {"fusion": "early", "cell": s["cell"], "layers": len(s["hidden"]) if isinstance(s["hidden"], list) else 1,
            "bidirectional": False, "pooling": "last", "attention_size": None, "fusion_size": None,
            "head_hidden": s["head"], "dropout": 0.0, "outputs": s["C"], "task": s["task"], "target": s["target"],
            "modalities": [{"name": "x", "features": features, "steps": steps, "hidden": s["hidden"]}]}


def accuracy(s, logits, y, lengths):
    if s["target"] == "step":
        valid = torch.arange(logits.shape[1]).expand(logits.shape[0], -1) < lengths.view(-1, 1)
        logits, y = logits[valid], y[valid]
    pred = (logits[:, 0] > 0).long() if s["task"] == "binary" else logits.argmax(-1)
    return (pred == y).double().mean().item()


def load_e(path):
    with h5py.File(path, "r") as f:
        return (torch.tensor(f["/modalities/image"][()], dtype=torch.float64),
                torch.tensor(f["/modalities/text"][()]), torch.tensor(f["/lengths/text"][()]),
                torch.tensor(f["/labels"][()]), torch.tensor(f["/embeddings/text"][()], dtype=torch.float64))


def spec_e(s, shape, vocab, width):
    return {"fusion": "late", "cell": s["cell"], "layers": 2, "bidirectional": False, "pooling": "last",
            "attention_size": None, "fusion_size": None, "head_hidden": s["head"], "dropout": 0.0, "outputs": 1,
            "task": "binary", "modalities": [
                {"name": "image", "features": shape[0] * shape[1] * shape[2], "steps": 1, "hidden": 1, "kind": "image",
                 "shape": list(shape), "encoder": {"kind": "conv", "channels": s["channels"], "kernel": 3, "pool": 2}},
                {"name": "text", "features": 1, "steps": 40, "hidden": s["hidden"], "kind": "tokens", "vocab": vocab,
                 "embed": width, "frozen": True}]}


def run_e(s, train, test, seed):
    """System E: images z-scored per channel over the training rows' pixels (mmtrain's data.normalize: zscore),
    the embedding from the file's vectors and frozen (nn.Embedding.from_pretrained), Adam on the rest."""
    torch.manual_seed(seed)
    images, ids, lengths, y, table = train
    t_images, t_ids, t_lengths, ty, _ = test
    mean = images.mean(dim=(0, 2, 3), keepdim=True)
    std = images.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    norm = lambda a: ((a - mean) / std).flatten(1).unsqueeze(1)       # (B, 1, C·H·W): one step
    images, t_images = norm(images), norm(t_images)
    as_column = lambda a: a.to(torch.float64).unsqueeze(-1)            # ids (B, T) -> (B, T, 1), as mmtrain's
    model = MultimodalModel(spec_e(s, train[0].shape[1:], table.shape[0], table.shape[1])).double()
    with torch.no_grad():
        model.embed["text"].weight.copy_(table)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=s["lr"])
    ones = torch.ones(images.shape[0], dtype=torch.int64)
    for _ in range(s["epochs"]):
        order = torch.randperm(images.shape[0])
        for i in range(0, images.shape[0], BATCH):
            idx = order[i:i + BATCH]
            logits = model([images[idx], as_column(ids[idx])], [ones[idx], lengths[idx]])
            loss = loss_fn("binary", logits, y[idx].double())
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        logits = model([t_images, as_column(t_ids)], [torch.ones(t_images.shape[0], dtype=torch.int64), t_lengths])
        return accuracy(s, logits, ty, t_lengths), params


def run(s, train, test, seed):
    torch.manual_seed(seed)
    x, lengths, y = train
    tx, tl, ty = test
    valid = torch.arange(x.shape[1]).expand(x.shape[0], -1) < lengths.view(-1, 1)
    mean, std = x[valid].mean(0), x[valid].std(0, unbiased=False)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    norm = lambda a, l: torch.where((torch.arange(a.shape[1]).expand(a.shape[0], -1) < l.view(-1, 1)).unsqueeze(-1),
                                    (a - mean) / std, torch.zeros_like(a))
    x, tx = norm(x, lengths), norm(tx, tl)
    model = MultimodalModel(spec_of(s, x.shape[2], x.shape[1])).double()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    target = (lambda t: t.double()) if s["task"] == "binary" else (lambda t: t)
    for _ in range(s["epochs"]):
        order = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], BATCH):
            idx = order[i:i + BATCH]
            logits = model([x[idx]], [lengths[idx]])
            if s["target"] == "step":
                loss = step_loss_fn(s["task"], logits, target(y[idx]), lengths[idx].clamp(min=1))
            else:
                loss = loss_fn(s["task"], logits, target(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return accuracy(s, model([tx], [tl]), ty, tl), params


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=".build/debug/mmtrain")
    p.add_argument("systems", nargs="*", default=list(SYSTEMS))
    a = p.parse_args()
    torch.set_num_threads(1)
    out_path = os.path.join(HERE, "examples_reference.json")
    out = json.load(open(out_path)) if os.path.exists(out_path) else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.systems:
            s = SYSTEMS[name]
            files = []
            for n, seed, tag in [(s["train"], TRAIN_SEED, "train"), (s["test"], TEST_SEED, "test")]:
                path = os.path.join(tmp, f"{s['example']}-{tag}.h5")
                subprocess.run([a.bin, "synth", "--example", s["example"], "--samples", str(n), "--seed", str(seed),
                                "--out", path], check=True, capture_output=True)
                files.append(load_e(path) if name == "e" else load(path))
            runs = [(run_e if name == "e" else run)(s, files[0], files[1], seed) for seed in range(3)]
            accs = [r[0] for r in runs]
            out[name] = {"example": s["example"], "train_samples": s["train"], "train_seed": TRAIN_SEED,
                         "test_samples": s["test"], "test_seed": TEST_SEED, "epochs": s["epochs"], "lr": s.get("lr", LR),
                         "sets": s["sets"],
                         "batch_size": BATCH, "torch_accuracy": sum(accs) / len(accs), "torch_accuracies": accs,
                         "torch_parameters": runs[0][1], "torch_version": torch.__version__}
            print(f"{name}: accuracy {accs} parameters {runs[0][1]}", flush=True)
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
