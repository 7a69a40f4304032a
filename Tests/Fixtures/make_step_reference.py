#!/usr/bin/env python3
"""Float64 PyTorch reference fixtures for per-step targets (`task.target: step`), Tests/ModelTests/
StepTargetReferenceTests.swift. The module is zoo_modules.MultimodalModel with spec["target"] = "step": the
head runs at every step of the early-fusion encoder's top layer, and the loss is step_loss_fn, the mean over
the valid steps t < fused length of each sample (a masked PyTorch loss).

One JSON file per case, Tests/Fixtures/step_<case>.json, in make_zoo_reference.py's format, except:
    "targets": {"shape": [B, T] or [B, T, K], ...}   class ids / 0-1 / regression values (padding: -1, or NaN)
    "logits":  {"shape": [B, T, C], ...}             every step; only the valid ones are compared
Targets past each sample's length are garbage on purpose (-1 ids, NaN values): they must never be read.

Cases: every task kind (multiclass, binary, regression with K = 1 as [B, T] and K = 2 as [B, T, K]) over
LSTM, bidirectional GRU with per-layer widths, and a 2-layer peephole LSTM; deep and Linear heads; one and
two modalities. After writing, every file is reloaded, the module rebuilt with load_state_dict(strict=True),
and everything recomputed and compared.

Regenerate (from the repo root): python3 Tests/Fixtures/make_step_reference.py
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo_reference import EARLY, dec, f32, tensor_json  # noqa: E402
from zoo_modules import MultimodalModel, step_loss_fn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "Tests/Fixtures/make_step_reference.py"
B, T = 4, 5
LENGTHS = {"text": [5, 2, 1, 3], "audio": [3, 0, 5, 1]}


def cases():
    one = [dict(EARLY[0], hidden=4)]
    two = EARLY
    return [
        dict(name="multiclass_lstm_deephead", cell="lstm", bidirectional=False, layers=1, mods=two, head=[5, 3],
             task="multiclass", C=3),
        dict(name="binary_gru_bi_widths", cell="gru", bidirectional=True, layers=2,
             mods=[dict(m, hidden=[4, 3]) for m in two], head=[4], task="binary", C=1),
        dict(name="regression_peephole_2layer", cell="lstm_peephole", bidirectional=False, layers=2, mods=one,
             head=[], task="regression", C=2),
        dict(name="regression1_lstm_single", cell="lstm", bidirectional=False, layers=1, mods=one, head=[3],
             task="regression", C=1),
    ]


def spec_of(c):
    return {"fusion": "early", "cell": c["cell"], "layers": c["layers"], "bidirectional": c["bidirectional"],
            "pooling": "last", "attention_size": None, "fusion_size": None, "head_hidden": c["head"],
            "dropout": 0.0, "outputs": c["C"], "task": c["task"], "modalities": c["mods"], "target": "step"}


def forward_backward(model, spec, inputs, lengths, targets):
    xs = [inputs[m["name"]].clone().requires_grad_(True) for m in spec["modalities"]]
    ls = [torch.tensor(lengths[m["name"]], dtype=torch.int64) for m in spec["modalities"]]
    fused = torch.stack(ls).max(dim=0).values.clamp(min=1)
    model.zero_grad()
    logits = model(xs, ls)
    loss = step_loss_fn(spec["task"], logits, targets, fused)
    loss.backward()
    return logits, loss, xs


def make_targets(task, C, fused):
    valid = torch.arange(T).expand(B, T) < torch.tensor(fused).view(B, 1)
    if task == "regression":
        y = f32(torch.randn(B, T, C, dtype=torch.float64))
        y[~valid] = float("nan")
        return y if C > 1 else y[:, :, 0]
    y = torch.randint(0, C if task == "multiclass" else 2, (B, T)).to(torch.float64)
    y[~valid] = -1
    return y


def make_case(c, seed):
    torch.manual_seed(seed)
    spec = spec_of(c)
    model = MultimodalModel(spec).double()
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "bias" in k or "weight_c" in k:
                p.add_(0.1 * torch.randn_like(p))
            p.copy_(f32(p))
    inputs = {m["name"]: f32(torch.randn(B, T, m["features"], dtype=torch.float64)) for m in spec["modalities"]}
    lengths = {m["name"]: LENGTHS[m["name"]] for m in spec["modalities"]}
    fused = [max(1, max(lengths[m["name"]][b] for m in spec["modalities"])) for b in range(B)]
    targets = make_targets(spec["task"], spec["outputs"], fused)
    logits, loss, xs = forward_backward(model, spec, inputs, lengths, targets)
    keys = list(model.state_dict().keys())
    named = dict(model.named_parameters())
    targets_json = tensor_json(targets)
    targets_json["data"] = [None if v != v else v for v in targets_json["data"]]  # NaN -> null
    return {
        "name": c["name"], "generator": GENERATOR, "torch_version": torch.__version__, "seed": seed,
        "spec": spec, "state_dict_keys": keys,
        "params": {k: tensor_json(v) for k, v in model.state_dict().items()},
        "inputs": {n: tensor_json(x) for n, x in inputs.items()},
        "lengths": lengths, "fused_lengths": fused, "targets": targets_json,
        "logits": tensor_json(logits, 12), "loss": loss.item(),
        "grads": {k: tensor_json(named[k].grad, 12) for k in keys},
        "dx": {m["name"]: tensor_json(x.grad, 12) for m, x in zip(spec["modalities"], xs)},
    }


def verify(path):
    with open(path) as f:
        j = json.load(f)
    spec = j["spec"]
    model = MultimodalModel(spec).double()
    model.load_state_dict({k: dec(v) for k, v in j["params"].items()}, strict=True)
    t = j["targets"]
    targets = torch.tensor([float("nan") if v is None else v for v in t["data"]], dtype=torch.float64).reshape(t["shape"])
    inputs = {n: dec(v) for n, v in j["inputs"].items()}
    logits, loss, xs = forward_backward(model, spec, inputs, j["lengths"], targets)
    named = dict(model.named_parameters())
    rel = lambda a, b: (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)
    errs = [abs(loss.item() - j["loss"]), rel(logits.detach(), dec(j["logits"]))]
    errs += [rel(named[k].grad, dec(g)) for k, g in j["grads"].items()]
    errs += [rel(x.grad, dec(j["dx"][m["name"]])) for m, x in zip(spec["modalities"], xs)]
    ok = max(errs) < 1e-9 and all(dec(g).abs().max().item() > 0 for g in j["grads"].values())
    print(f"verify {os.path.basename(path)}: loss={j['loss']:.6f} max rel err={max(errs):.2g} -> {'OK' if ok else 'FAIL'}")
    return ok


def main():
    torch.set_num_threads(1)
    ok = True
    for n, c in enumerate(cases()):
        path = os.path.join(HERE, f"step_{c['name']}.json")
        with open(path, "w") as f:
            json.dump(make_case(c, 3000 + n), f, separators=(",", ":"))
            f.write("\n")
        ok = verify(path) and ok
    print("ALL OK" if ok else "VERIFICATION FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
