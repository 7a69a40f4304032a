#!/usr/bin/env python3
"""Loads mmtrain checkpoints into their documented PyTorch module and checks the forward.

Used by Tests/MultiRankTests/CheckpointPyTorchTests.swift. Each argument is a JSON case written by that test:

    {"checkpoint": path, "spec": {zoo_modules spec}, "inputs": {modality: {"shape": [B, T_m, D_m], "data"}},
     "lengths": {modality: [B]}, "logits": {"shape": [B, C], "data"}}       # logits: the Swift model's
                                                  # (per-step targets: [B, T, C], compared at the valid steps)

For each: zoo_modules.MultimodalModel(spec).load_state_dict(/params, strict=True), then the forward in float64
on the same inputs must give the Swift float32 logits to 1e-4 (relative to the largest). Exit 0 when all pass.

    python3 Tests/Fixtures/check_zoo_checkpoint.py case1.json [case2.json ...]
"""

import json
import os
import sys

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_modules import MultimodalModel  # noqa: E402


def check(path):
    with open(path) as f:
        j = json.load(f)
    spec = j["spec"]
    model = MultimodalModel(spec).double().eval()
    with h5py.File(j["checkpoint"], "r") as f:
        state = {k: torch.from_numpy(f["params"][k][()]).double() for k in f["params"]}
    model.load_state_dict(state, strict=True)   # raises on any missing, unexpected or misshapen tensor
    tensor = lambda d: torch.tensor(d["data"], dtype=torch.float64).reshape(d["shape"])
    names = [m["name"] for m in spec["modalities"]]
    with torch.no_grad():
        logits = model([tensor(j["inputs"][n]) for n in names], [torch.tensor(j["lengths"][n]) for n in names])
    want = tensor(j["logits"])
    if spec.get("target") == "step":   # (B, T, C): the valid steps only (past them the two sides differ, unread)
        fused = torch.stack([torch.tensor(j["lengths"][n]) for n in names]).max(dim=0).values.clamp(min=1)
        valid = torch.arange(want.shape[1]).expand(want.shape[0], -1) < fused.view(-1, 1)
        logits, want = logits[valid], want[valid]
    err = (logits - want).abs().max().item() / max(want.abs().max().item(), 1e-30)
    ok = err < 1e-4
    target = ", every step" if spec.get("target") == "step" else ""
    print(f"{spec['fusion']} fusion{target} ({'bidirectional ' if spec['bidirectional'] else ''}{spec['cell']} x{spec['layers']}, {spec['pooling']} pooling): load_state_dict(strict=True) of "
          f"{len(state)} tensors OK; logits vs Swift max rel diff {err:.2g} -> {'OK' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    results = [check(p) for p in sys.argv[1:]]
    sys.exit(0 if results and all(results) else 1)
