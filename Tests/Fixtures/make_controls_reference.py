#!/usr/bin/env python3
"""PyTorch float64 reference for mmtrain's training controls (issue 15).

What it produces
----------------
Tests/Fixtures/controls_reference.json: one entry per control. Each entry trains the
early-fusion LSTM of README "Model" (nn.LSTM + nn.Linear head) for 20 full-batch
optimiser steps in float64, from initial weights and data that are stored in the
entry, and records what the Swift trainer must reproduce:

    {"generator", "torch_version", "steps": 20, "N", "T", "D", "H",
     "cases": [{"name", "kind", "outputs", "set": ["train.optimizer=adamw", ...],
                "x": [N*T*D], "lengths": [N], "labels": [N] or [N*K],
                "init": {state_dict key: {"shape", "data"}},
                "lr": [20], "loss": [20], "grad_norm": [20],   # per step
                "final": {state_dict key: {"shape", "data"}},
                "torch_float32_drift": max relative difference of PyTorch's own float32 run}]}

"set" holds the mmtrain config keys of the control, written as --set overrides; the
Swift test (Tests/TrainingTests/ControlsReferenceTests.swift) adds the common ones:
one modality "x" of [N, T, D] with /lengths, data.steps T, data.align truncate,
data.normalize none, data.validation_fraction 0, model.hidden H, train.batch_size N
(one step per epoch, so the epoch of step s is s), train.epochs 20, and starts from
"init" through --init (a checkpoint holding those weights).

Per step s (PyTorch's order, as the issue asks):
    lr = schedule(s)                      set on the param group, as LambdaLR would
    loss = criterion(model(x), y)         "loss" records this data loss
         + l1 * sum |W| over weight matrices (not biases)
    loss.backward()
    norm = clip_grad_norm_(params, c)     "grad_norm" records the pre-clip norm
    optimizer.step()                      torch.optim.SGD / Adam / AdamW / RMSprop

The schedule is the issue's formula: warm-up lr*(s+1)/W for s < W; then constant,
step lr*gamma**(e // k), exponential lr*gamma**e, or cosine
lr_min + (lr - lr_min) * (1 + cos(pi * (s - W) / (S - W))) / 2, with e the epoch of s.

Inputs and initial weights are float32 values (the Swift side is float32), widened to
float64 for the reference. Determinism: CPU, torch.manual_seed per case.

Regenerate (from the repo root; writes next to itself):

    pip install torch h5py --break-system-packages
    python3 Tests/Fixtures/make_controls_reference.py
"""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "Tests/Fixtures/make_controls_reference.py"
N, T, D, H, STEPS = 16, 5, 3, 4, 20


class EarlyFusionLSTM(nn.Module):
    def __init__(self, D, H, layers, C):
        super().__init__()
        self.fusion = nn.Module()
        self.fusion.lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, C)

    def forward(self, x, lengths):
        out, _ = self.fusion.lstm(x)
        return self.head(out[torch.arange(x.shape[0]), lengths - 1])


# name, kind, config keys (as --set), and the matching torch objects
CASES = [
    ("sgd", "multiclass", {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "train.weight_decay": 0.001}),
    ("sgd_nesterov", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "train.nesterov": True, "train.weight_decay": 0.001}),
    ("adam", "multiclass", {"train.optimizer": "adam", "train.lr": 0.01, "train.weight_decay": 0.001}),
    ("adamw", "multiclass", {"train.optimizer": "adamw", "train.lr": 0.01, "train.weight_decay": 0.1}),
    ("rmsprop", "multiclass",
     {"train.optimizer": "rmsprop", "train.lr": 0.001, "train.alpha": 0.99, "train.weight_decay": 0.001}),
    ("schedule_constant_warmup", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.2, "train.momentum": 0.9, "train.schedule": "constant", "train.warmup_steps": 5}),
    ("schedule_step_warmup", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.2, "train.momentum": 0.9, "train.schedule": "step", "train.warmup_steps": 3,
      "train.gamma": 0.5, "train.step_epochs": 5}),
    ("schedule_exponential_warmup", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.2, "train.momentum": 0.9, "train.schedule": "exponential",
      "train.warmup_steps": 2, "train.gamma": 0.9}),
    ("schedule_cosine_warmup", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.2, "train.momentum": 0.9, "train.schedule": "cosine", "train.warmup_steps": 4,
      "train.lr_min": 0.002}),
    ("clip", "multiclass", {"train.optimizer": "sgd", "train.lr": 0.5, "train.momentum": 0.9, "train.clip_norm": 0.05}),
    ("l1", "multiclass", {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "train.l1": 0.01}),
    ("class_weights_list", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.class_weights": [1.0, 2.5, 0.5]}),
    ("class_weights_balanced", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.class_weights": "balanced"}),
    ("class_weights_binary", "binary",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.class_weights": [1.0, 3.0]}),
    ("class_weights_binary_balanced", "binary",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.class_weights": "balanced"}),
    ("label_smoothing", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "train.label_smoothing": 0.1}),
    ("label_smoothing_weighted", "multiclass",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "train.label_smoothing": 0.2,
      "task.class_weights": [1.0, 2.5, 0.5]}),
    ("regression_mse", "regression", {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.loss": "mse"}),
    ("regression_mae", "regression", {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.loss": "mae"}),
    ("regression_huber", "regression",
     {"train.optimizer": "sgd", "train.lr": 0.1, "train.momentum": 0.9, "task.loss": "huber", "task.huber_delta": 0.5}),
]

CLASSES = 3   # multiclass
K = 2         # regression targets


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(repr(float(w)) for w in v) + "]"
    return str(v)


def schedule(cfg, s):
    lr = cfg["train.lr"]
    W = cfg.get("train.warmup_steps", 0)
    if s < W:
        return lr * (s + 1) / W
    e = s  # one step per epoch
    kind = cfg.get("train.schedule", "constant")
    gamma = cfg.get("train.gamma", 0.1)
    if kind == "step":
        return lr * gamma ** (e // cfg.get("train.step_epochs", 10))
    if kind == "exponential":
        return lr * gamma ** e
    if kind == "cosine":
        lr_min = cfg.get("train.lr_min", 0.0)
        return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (s - W) / (STEPS - W))) / 2
    return lr


def make_data(kind, gen):
    x = torch.randn(N, T, D, generator=gen).float()
    lengths = torch.randint(1, T + 1, (N,), generator=gen)
    lengths[0], lengths[1] = 1, T
    if kind == "multiclass":
        # imbalanced (8, 5, 3) so that balanced weights differ from 1
        y = torch.tensor([0] * 8 + [1] * 5 + [2] * 3)[torch.randperm(N, generator=gen)]
    elif kind == "binary":
        y = torch.tensor([0] * 11 + [1] * 5)[torch.randperm(N, generator=gen)]
    else:
        y = torch.randn(N, K, generator=gen).float()
    return x, lengths, y


def class_weights(cfg, y, C):
    w = cfg.get("task.class_weights")
    if w is None:
        return None
    if w == "balanced":
        counts = torch.bincount(y, minlength=C).double()
        return len(y) / (C * counts)
    return torch.tensor(w, dtype=torch.float64)


def criterion(kind, cfg, y, C):
    w = class_weights(cfg, y, C)
    if kind == "multiclass":
        return lambda z: F.cross_entropy(z, y, weight=None if w is None else w.to(z.dtype),
                                         label_smoothing=cfg.get("train.label_smoothing", 0.0))
    if kind == "binary":
        pos = None if w is None else (w[1] / w[0]).reshape(1)
        return lambda z: F.binary_cross_entropy_with_logits(z[:, 0], y.to(z.dtype),
                                                            pos_weight=None if pos is None else pos.to(z.dtype))
    loss = cfg.get("task.loss", "mse")
    if loss == "mse":
        return lambda z: F.mse_loss(z, y.to(z.dtype))
    if loss == "mae":
        return lambda z: F.l1_loss(z, y.to(z.dtype))
    return lambda z: F.huber_loss(z, y.to(z.dtype), delta=cfg.get("task.huber_delta", 1.0))


def optimizer(cfg, params):
    kind, lr, wd = cfg["train.optimizer"], cfg["train.lr"], cfg.get("train.weight_decay", 0.0)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("train.momentum", 0.9),
                               nesterov=cfg.get("train.nesterov", False), weight_decay=wd)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, alpha=cfg.get("train.alpha", 0.99), eps=1e-8, weight_decay=wd,
                               momentum=0, centered=False)


def tensor_json(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def train(kind, cfg, C, init_state, x32, lengths, y, dtype):
    """20 steps in `dtype`; returns the final state_dict and the per-step lr, data loss and pre-clip norm."""
    model = EarlyFusionLSTM(D, H, 1, C).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in init_state.items()})
    x = x32.to(dtype)
    crit = criterion(kind, cfg, y, CLASSES if kind == "multiclass" else 2)
    params = list(model.parameters())
    weights = [p for n, p in model.named_parameters() if p.dim() >= 2]
    opt = optimizer(cfg, params)
    l1, clip = cfg.get("train.l1", 0.0), cfg.get("train.clip_norm", 0.0)
    lrs, losses, norms = [], [], []
    for s in range(STEPS):
        lr = schedule(cfg, s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        data_loss = crit(model(x, lengths))
        loss = data_loss + l1 * sum(w.abs().sum() for w in weights) if l1 > 0 else data_loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        opt.step()
        lrs.append(lr); losses.append(float(data_loss.detach())); norms.append(float(norm))
    return model.state_dict(), lrs, losses, norms


def run_case(index, name, kind, cfg):
    torch.manual_seed(100 + index)
    gen = torch.Generator().manual_seed(200 + index)
    C = {"multiclass": CLASSES, "binary": 1, "regression": K}[kind]
    x32, lengths, y = make_data(kind, gen)
    init = EarlyFusionLSTM(D, H, 1, C)  # float32 default init: the Swift side starts from these exact values
    init_state = {k: v.detach().clone() for k, v in init.state_dict().items()}
    final, lrs, losses, norms = train(kind, cfg, C, init_state, x32, lengths, y, torch.float64)
    # PyTorch's own float32 run from the same start: how far float32 arithmetic alone drifts from float64 in
    # 20 steps of this control (max over tensors of max|Δ| / max|reference|). The tolerance must sit well above it.
    final32, _, _, _ = train(kind, cfg, C, init_state, x32, lengths, y, torch.float32)
    drift = max(float((final32[k].double() - final[k]).abs().max() / final[k].abs().max()) for k in final)
    labels = y.reshape(-1).tolist()
    return {
        "name": name, "kind": kind, "outputs": C,
        "set": [f"{k}={yaml_value(v)}" for k, v in cfg.items()],
        "x": [float(v) for v in x32.reshape(-1).tolist()], "lengths": lengths.tolist(),
        "labels": [float(v) for v in labels],
        "init": {k: tensor_json(v) for k, v in init_state.items()},
        "lr": lrs, "loss": losses, "grad_norm": norms,
        "final": {k: tensor_json(v) for k, v in final.items()}, "torch_float32_drift": drift,
    }


def main():
    torch.set_num_threads(1)
    cases = [run_case(i, *case) for i, case in enumerate(CASES)]
    out = {"generator": GENERATOR, "torch_version": torch.__version__, "steps": STEPS, "N": N, "T": T, "D": D, "H": H,
           "cases": cases}
    path = os.path.join(HERE, "controls_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    for c in cases:
        moved = max(max(abs(a - b) for a, b in zip(c["final"][k]["data"], c["init"][k]["data"])) for k in c["init"])
        print(f"{c['name']:32s} loss {c['loss'][0]:.4f} -> {c['loss'][-1]:.4f}  norm {c['grad_norm'][0]:.4f}  "
              f"max |Δp| {moved:.4f}  torch float32 drift {c['torch_float32_drift']:.1e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
