#!/usr/bin/env python3
"""PyTorch reference fixtures for mmtrain's Swift LSTM trainer.

What it produces
----------------
One JSON file per case, written next to this script:

    Tests/Fixtures/reference_multiclass_2layer.json   B=4, T=6, D=7, H=5, layers=2, C=3
    Tests/Fixtures/reference_binary_1layer.json       B=5, T=4, D=3, H=4, layers=1, C=1
    Tests/Fixtures/reference_regression_1layer.json   B=3, T=5, D=4, H=6, layers=1, C=2 (K=2)

Each file holds the inputs (x, lengths, labels), every parameter (state_dict
order and names), the forward logits, the mean loss, the gradient of the loss
with respect to EVERY parameter, and dloss/dx. All tensors are float32 values
written at full precision (Python repr of the exact float32 value), flattened
row-major (C order) together with their shape:

    {"name", "kind": "multiclass"|"binary"|"regression", "B", "T", "D", "H",
     "layers", "C", "generator", "torch_version", "state_dict_keys": [...],
     "x": {"shape": [B,T,D], "data": [...]}, "lengths": [...],
     "labels": {"shape": [B] or [B,K], "data": [...]},   # ints for multiclass
     "params": {"fusion.lstm.weight_ih_l0": {"shape": [4H,D], "data": [...]}, ...,
                "head.weight": ..., "head.bias": ...},
     "logits": {"shape": [B,C], "data": [...]}, "loss": float,
     "grads": {same keys as params}, "dx": {"shape": [B,T,D], "data": [...]}}

The Swift model is the equivalent of this PyTorch module:

```python
class EarlyFusionLSTM(nn.Module):
    def __init__(self, D, H, layers, C):
        super().__init__()
        self.fusion = nn.Module()
        self.fusion.lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, C)
    def forward(self, x, lengths):          # x (B, T, D) float32, lengths (B,) int64 in 1..T
        out, _ = self.fusion.lstm(x)        # (B, T, H); no packing: steps after a sample's length are run but ignored
        last = out[torch.arange(x.shape[0]), lengths - 1]   # (B, H) hidden state at each sample's last valid step
        return self.head(last)              # (B, C) logits
```

PyTorch LSTM conventions (what the Swift side must match): gate order in the
4H rows of weight_ih_l{k} / weight_hh_l{k} / bias_ih_l{k} / bias_hh_l{k} is
(input i, forget f, cell g, output o); both biases are added; initial h and c
are zero; layer k>0 takes layer k-1's hidden sequence as input.

Losses (all means):
    multiclass: F.cross_entropy(logits, labels int64)
    binary:     F.binary_cross_entropy_with_logits(logits[:, 0], labels float)   (C=1)
    regression: F.mse_loss(logits, targets float (B, K))  (mean over all B*K; C=K)

Determinism: torch.set_num_threads(1), float32, CPU, torch.manual_seed(seed) per
case. Parameters come from PyTorch's default init for that seed; then every
bias gets + 0.1*randn so bias bugs show. x = randn; lengths are fixed per case
and deliberately varied (always include 1 and T); labels are random.

After writing, the script reloads each JSON, rebuilds the module from "params"
with load_state_dict(strict=True), recomputes logits / loss / grads / dx and
checks them against the stored values (loss to 1e-6).

Regenerate (from the repo root; writes next to itself):

    python3 Tests/Fixtures/make_reference.py
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "Tests/Fixtures/make_reference.py"


class EarlyFusionLSTM(nn.Module):
    def __init__(self, D, H, layers, C):
        super().__init__()
        self.fusion = nn.Module()
        self.fusion.lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, C)

    def forward(self, x, lengths):          # x (B, T, D) float32, lengths (B,) int64 in 1..T
        out, _ = self.fusion.lstm(x)        # (B, T, H); no packing: steps after a sample's length are run but ignored
        last = out[torch.arange(x.shape[0]), lengths - 1]   # (B, H) hidden state at each sample's last valid step
        return self.head(last)              # (B, C) logits


CASES = [
    dict(name="multiclass_2layer", kind="multiclass", seed=1001,
         B=4, T=6, D=7, H=5, layers=2, C=3, lengths=[6, 1, 4, 3]),
    dict(name="binary_1layer", kind="binary", seed=1002,
         B=5, T=4, D=3, H=4, layers=1, C=1, lengths=[1, 4, 2, 3, 4]),
    dict(name="regression_1layer", kind="regression", seed=1003,
         B=3, T=5, D=4, H=6, layers=1, C=2, lengths=[5, 1, 3]),
]


def compute_loss(kind, logits, labels):
    if kind == "multiclass":
        return F.cross_entropy(logits, labels)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels)
    if kind == "regression":
        return F.mse_loss(logits, labels)
    raise ValueError(kind)


def enc(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def dec(d, dtype=torch.float32):
    return torch.tensor(d["data"], dtype=dtype).reshape(d["shape"])


def make_case(c):
    torch.manual_seed(c["seed"])
    B, T, D, H, L, C = c["B"], c["T"], c["D"], c["H"], c["layers"], c["C"]
    assert len(c["lengths"]) == B and 1 in c["lengths"] and T in c["lengths"]

    model = EarlyFusionLSTM(D, H, L, C).float()
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "bias" in k:
                p.add_(0.1 * torch.randn_like(p))

    x = torch.randn(B, T, D, dtype=torch.float32)
    lengths = torch.tensor(c["lengths"], dtype=torch.int64)
    if c["kind"] == "multiclass":
        labels = torch.randint(0, C, (B,), dtype=torch.int64)
    elif c["kind"] == "binary":
        labels = torch.randint(0, 2, (B,)).to(torch.float32)
    else:
        labels = torch.randn(B, C, dtype=torch.float32)

    sd = model.state_dict()
    keys = list(sd.keys())
    params = {k: enc(v) for k, v in sd.items()}  # snapshot before backward

    x.requires_grad_(True)
    model.zero_grad()
    logits = model(x, lengths)
    loss = compute_loss(c["kind"], logits, labels)
    loss.backward()

    named = dict(model.named_parameters())
    assert set(named) == set(keys), (set(named) ^ set(keys))
    grads = {k: enc(named[k].grad) for k in keys}

    return {
        "name": c["name"], "kind": c["kind"],
        "B": B, "T": T, "D": D, "H": H, "layers": L, "C": C,
        "generator": GENERATOR, "torch_version": torch.__version__,
        "seed": c["seed"],
        "state_dict_keys": keys,
        "x": enc(x),
        "lengths": lengths.tolist(),
        "labels": enc(labels),
        "params": params,
        "logits": enc(logits),
        "loss": loss.item(),
        "grads": grads,
        "dx": enc(x.grad),
    }


def verify(path):
    """Reload a fixture, rebuild the module from it and recompute everything."""
    with open(path) as f:
        j = json.load(f)
    model = EarlyFusionLSTM(j["D"], j["H"], j["layers"], j["C"]).float()
    assert list(model.state_dict().keys()) == j["state_dict_keys"]
    assert list(j["params"].keys()) == j["state_dict_keys"]
    assert list(j["grads"].keys()) == j["state_dict_keys"]
    model.load_state_dict({k: dec(v) for k, v in j["params"].items()}, strict=True)

    x = dec(j["x"]).requires_grad_(True)
    lengths = torch.tensor(j["lengths"], dtype=torch.int64)
    labels = dec(j["labels"], torch.int64 if j["kind"] == "multiclass" else torch.float32)
    logits = model(x, lengths)
    loss = compute_loss(j["kind"], logits, labels)
    loss.backward()

    loss_err = abs(loss.item() - j["loss"])
    logit_err = (logits.detach() - dec(j["logits"])).abs().max().item()
    named = dict(model.named_parameters())
    grad_err = max((named[k].grad - dec(g)).abs().max().item() for k, g in j["grads"].items())
    dx_err = (x.grad - dec(j["dx"])).abs().max().item()
    ok = loss_err <= 1e-6 and logit_err <= 1e-6 and grad_err <= 1e-6 and dx_err <= 1e-6
    print(f"verify {os.path.basename(path)}: loss={j['loss']!r} recomputed={loss.item()!r} "
          f"|dloss|={loss_err:.3g} max|dlogits|={logit_err:.3g} max|dgrad|={grad_err:.3g} "
          f"max|ddx|={dx_err:.3g} -> {'OK' if ok else 'FAIL'}")
    return ok


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    all_ok = True
    for c in CASES:
        path = os.path.join(HERE, f"reference_{c['name']}.json")
        with open(path, "w") as f:
            json.dump(make_case(c), f, indent=1)
            f.write("\n")
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    for c in CASES:
        all_ok &= verify(os.path.join(HERE, f"reference_{c['name']}.json"))
    print("ALL OK" if all_ok else "VERIFICATION FAILED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
