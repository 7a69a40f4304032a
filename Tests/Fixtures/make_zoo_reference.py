#!/usr/bin/env python3
"""Float64 PyTorch reference fixtures for mmtrain's model zoo (Tests/ModelTests/ZooReferenceTests.swift).

The module is zoo_modules.MultimodalModel (next to this script). One JSON file per case,
Tests/Fixtures/zoo_<case>.json, written compactly:

    {"name", "generator", "torch_version", "seed",
     "spec": {"fusion", "cell", "layers", "bidirectional", "pooling", "attention_size", "fusion_size",
              "head_hidden", "dropout": 0, "outputs", "task",
              "modalities": [{"name", "features", "steps", "hidden"}, ...]},       # model order
     "state_dict_keys": [...],                                  # = the Swift arena's names, in order
     "params": {key: {"shape", "data"}},                        # float32-representable float64 values
     "inputs": {modality: {"shape": [B, T_m, D_m], "data"}},    # batch-first, float32-representable
     "lengths": {modality: [B ints in 0..T_m]}, "fused_lengths": [B] (max over modalities, >= 1),
     "targets": {"shape": [B] or [B, K], "data"},               # class ids / 0-1 / regression values
     "logits": {"shape": [B, C], "data"}, "loss": float,        # loss = mean over the batch
     "grads": {key: {"shape", "data"}},                         # d loss / d every parameter
     "dx": {modality: {"shape": [B, T_m, D_m], "data"}}}        # d loss / d each modality's input

Everything is computed in float64 from parameters and inputs that are exactly representable in float32,
so the Swift float32 model loads exactly what PyTorch used. Parameters: PyTorch's default init for the
case's seed, then every bias (and peephole vector) gets + 0.1*randn so bias bugs show. Inputs are randn
everywhere, padding included (padding must never matter, except inside early fusion's fused length,
where both sides read it). Lengths: one modality of one sample is 0, some lengths equal T_m.

The matrix: every fusion x every pooling with a unidirectional LSTM; every cell (lstm, lstm_peephole,
gru) x {uni, bidirectional} for late and early fusion with last pooling; bidirectional with mean, max and
attention pooling (one per fusion); gated fusion once per pooling (every cell, both directions); 1 or 2
layers; head_hidden 0 and > 0; per-layer widths (hidden lists) and deep heads (head_hidden lists); multiclass, binary and regression spread over the cases. One attention-fusion case has a sample
with no modality present. After writing, every file is reloaded, the module rebuilt from "params" with
load_state_dict(strict=True), and everything recomputed and compared.

Regenerate (from the repo root): python3 Tests/Fixtures/make_zoo_reference.py [CASE ...]
With case names (e.g. gated_lstm_last), only those fixtures are rewritten (and verified); the others stay.
"""

import glob
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_modules import MultimodalModel, loss_fn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "Tests/Fixtures/make_zoo_reference.py"
B = 4

# Per-modality shapes. Late/attention/tensor: each modality its own steps, features and hidden.
SEPARATE = [dict(name="text", features=3, steps=5, hidden=4),
            dict(name="audio", features=2, steps=3, hidden=3),
            dict(name="video", features=4, steps=4, hidden=5)]
SEPARATE_LENGTHS = {"text": [5, 2, 1, 4], "audio": [3, 0, 2, 1], "video": [1, 4, 3, 4]}
# Early fusion: one time axis (all steps equal), one hidden size.
EARLY = [dict(name="text", features=3, steps=5, hidden=4),
         dict(name="audio", features=2, steps=5, hidden=4)]
EARLY_LENGTHS = {"text": [5, 2, 1, 3], "audio": [3, 0, 5, 1]}
TASKS = [("multiclass", 3), ("binary", 1), ("regression", 2)]


def cases():
    out = []
    n = 0
    for fusion in ["early", "late", "attention", "tensor"]:
        for pooling in ["last", "mean", "max", "attention"]:
            task, C = TASKS[n % 3]
            mods = EARLY if fusion == "early" else (SEPARATE if n % 2 == 0 or fusion == "tensor" else SEPARATE[:2])
            if fusion == "tensor" and pooling in ("mean", "attention"):
                mods = SEPARATE[:2]
            lengths = EARLY_LENGTHS if fusion == "early" else SEPARATE_LENGTHS
            lengths = {m["name"]: list(lengths[m["name"]]) for m in mods}
            if fusion == "attention" and pooling == "mean":   # a sample with no modality present
                for name in lengths:
                    lengths[name][3] = 0
            out.append(dict(
                name=f"{fusion}_lstm_{pooling}", seed=2000 + n, fusion=fusion, cell="lstm", bidirectional=False,
                pooling=pooling, layers=2 if n % 4 == 1 else 1,
                attention_size=3 if pooling == "attention" and fusion in ("early", "attention") else None,
                fusion_size=(3 if fusion == "tensor" else 4) if fusion in ("attention", "tensor") and n % 2 == 0 else None,
                head_hidden=[0, 5, None][n % 3] if fusion != "tensor" else 6,
                task=task, outputs=C, modalities=mods, lengths=lengths))
            n += 1
    for fusion in ["late", "early"]:
        for cell in ["lstm", "lstm_peephole", "gru"]:
            for bidirectional in [False, True]:
                if cell == "lstm" and not bidirectional:
                    continue                              # the matrix above has it
                task, C = TASKS[n % 3]
                mods = EARLY if fusion == "early" else SEPARATE
                lengths = {m["name"]: list((EARLY_LENGTHS if fusion == "early" else SEPARATE_LENGTHS)[m["name"]]) for m in mods}
                out.append(dict(
                    name=f"{fusion}_{cell}_{'bi' if bidirectional else 'uni'}_last", seed=2000 + n, fusion=fusion, cell=cell,
                    bidirectional=bidirectional, pooling="last", layers=2 if n % 2 == 0 else 1, attention_size=None,
                    fusion_size=None, head_hidden=[0, 4][n % 2], task=task, outputs=C, modalities=mods, lengths=lengths))
                n += 1
    # Bidirectional with the other poolings, one per fusion (reverse-direction padding must not leak into them).
    for fusion, cell, pooling, layers in [("attention", "gru", "mean", 2), ("tensor", "lstm_peephole", "max", 1),
                                          ("early", "lstm", "attention", 1)]:
        task, C = TASKS[n % 3]
        mods = EARLY if fusion == "early" else SEPARATE[:2]
        lengths = {m["name"]: list((EARLY_LENGTHS if fusion == "early" else SEPARATE_LENGTHS)[m["name"]]) for m in mods}
        out.append(dict(
            name=f"{fusion}_{cell}_bi_{pooling}", seed=2000 + n, fusion=fusion, cell=cell, bidirectional=True,
            pooling=pooling, layers=layers, attention_size=3 if pooling == "attention" else None,
            fusion_size=3 if fusion == "tensor" else None, head_hidden=5, task=task, outputs=C, modalities=mods,
            lengths=lengths))
        n += 1
    # Gated fusion: every pooling once, uni and bidirectional cells, 2 and 3 modalities.
    for cell, bidirectional, pooling, layers, mods in [("lstm", False, "last", 1, SEPARATE), ("gru", True, "mean", 2, SEPARATE[:2]),
                                                        ("lstm_peephole", False, "max", 1, SEPARATE),
                                                        ("lstm", True, "attention", 1, SEPARATE[:2])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list(SEPARATE_LENGTHS[m["name"]]) for m in mods}
        out.append(dict(
            name=f"gated_{cell}_{'bi_' if bidirectional else ''}{pooling}", seed=2000 + n, fusion="gated", cell=cell,
            bidirectional=bidirectional, pooling=pooling, layers=layers, attention_size=3 if pooling == "attention" else None,
            fusion_size=[None, 3][n % 2], head_hidden=[5, 0][n % 2], task=task, outputs=C, modalities=mods, lengths=lengths))
        n += 1
    # Per-layer widths (model.hidden lists: a stack of one-layer modules where they differ; an equal list is
    # nn.LSTM(num_layers)) and deep heads (model.head_hidden lists), across cells, directions and fusions.
    wide = lambda mods, widths: [dict(m, hidden=w) for m, w in zip(mods, widths)]
    for name, fusion, cell, bidirectional, pooling, mods, head_hidden in [
            ("late_lstm_widths_deephead", "late", "lstm", False, "last", wide(SEPARATE, [[5, 3], [2, 4], [3, 3]]), [5, 4]),
            ("early_gru_bi_widths", "early", "gru", True, "last", wide(EARLY, [[4, 3], [4, 3]]), [3]),
            ("gated_lstm_peephole_widths_deephead", "gated", "lstm_peephole", False, "mean",
             wide(SEPARATE[:2], [[3, 4, 2], 3]), [6, 4, 3]),
            ("attention_lstm_bi_widths_mean", "attention", "lstm", True, "mean",
             wide(SEPARATE[:2], [[4, 2], [3, 2]]), []),
            ("early_lstm_deephead", "early", "lstm", False, "max", EARLY, [6, 5])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list((EARLY_LENGTHS if fusion == "early" else SEPARATE_LENGTHS)[m["name"]]) for m in mods}
        layers = max((len(m["hidden"]) for m in mods if isinstance(m["hidden"], list)), default=1)
        out.append(dict(
            name=name, seed=2000 + n, fusion=fusion, cell=cell, bidirectional=bidirectional, pooling=pooling,
            layers=layers, attention_size=3 if pooling == "attention" else None,
            fusion_size=3 if fusion in ("attention", "gated") else None, head_hidden=head_hidden, task=task,
            outputs=C, modalities=mods, lengths=lengths))
        n += 1
    # Static vectors [B, D] (kind static, one step; inputs stored [B, 1, D]) with an MLP encoder or passed through,
    # beside sequences; sample 2 has the vector absent (length 0, as modality dropout makes it).
    face = lambda widths: dict(name="face", features=4, steps=1, hidden=1, kind="static",
                               encoder={"kind": "mlp", "widths": widths})
    for name, fusion, cell, bidirectional, mods in [
            ("late_static_mlp", "late", "lstm", False, [SEPARATE[0], face([5, 3])]),
            ("gated_static_passthrough", "gated", "lstm", False, SEPARATE[:2] + [face([])]),
            ("attention_gru_bi_static_mlp", "attention", "gru", True, [SEPARATE[1], face([3])]),
            ("tensor_static_mlp", "tensor", "lstm", False, [SEPARATE[0], face([2])])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list(SEPARATE_LENGTHS[m["name"]]) for m in mods if m["name"] != "face"}
        lengths["face"] = [1, 1, 0, 1]
        out.append(dict(
            name=name, seed=2000 + n, fusion=fusion, cell=cell, bidirectional=bidirectional, pooling="last", layers=1,
            attention_size=None, fusion_size=3 if fusion in ("attention", "gated", "tensor") else None,
            head_hidden=[4], task=task, outputs=C, modalities=mods, lengths=lengths))
        n += 1
    # Images [B, C, H, W] (kind image, one step of C·H·W features) through a conv encoder: odd sides with pooling
    # remainders, an even kernel (the output grows by one), no pooling; sample 2's image absent.
    image = lambda shape, channels, kernel, pool: dict(
        name="image", features=shape[0] * shape[1] * shape[2], steps=1, hidden=1, kind="image", shape=shape,
        encoder={"kind": "conv", "channels": channels, "kernel": kernel, "pool": pool})
    for name, fusion, mods in [
            ("late_image_conv_odd", "late", [SEPARATE[0], image([2, 7, 5], [3, 4], 3, 2)]),
            ("gated_image_conv_even_kernel", "gated", [SEPARATE[1], image([1, 6, 6], [2], 2, 2)]),
            ("attention_image_conv_nopool", "attention", [SEPARATE[0], image([2, 5, 4], [3], 3, 1)])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list(SEPARATE_LENGTHS[m["name"]]) for m in mods if m["name"] != "image"}
        lengths["image"] = [1, 1, 0, 1]
        out.append(dict(
            name=name, seed=2000 + n, fusion=fusion, cell="lstm", bidirectional=False, pooling="last", layers=1,
            attention_size=None, fusion_size=3 if fusion != "late" else None, head_hidden=[4], task=task, outputs=C,
            modalities=mods, lengths=lengths))
        n += 1
    # Image sequences [B, T, C, H, W] (kind image_sequence: T steps of C·H·W features): every frame through the
    # conv, then the recurrent stack over the frames' valid steps.
    frames = lambda base, shape, channels, kernel, pool, hidden: dict(
        name=base["name"], features=shape[0] * shape[1] * shape[2], steps=base["steps"], hidden=hidden,
        kind="image_sequence", shape=shape, encoder={"kind": "conv", "channels": channels, "kernel": kernel, "pool": pool})
    for name, fusion, cell, bidirectional, pooling, mods in [
            ("late_frames_conv_lstm", "late", "lstm", False, "last",
             [SEPARATE[0], frames(SEPARATE[2], [1, 5, 4], [2], 3, 2, 3)]),
            ("attention_frames_conv_gru_bi_mean", "attention", "gru", True, "mean",
             [frames(SEPARATE[1], [2, 4, 3], [2, 3], 2, 1, 4), SEPARATE[0]])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list(SEPARATE_LENGTHS[m["name"]]) for m in mods}
        out.append(dict(
            name=name, seed=2000 + n, fusion=fusion, cell=cell, bidirectional=bidirectional, pooling=pooling, layers=1,
            attention_size=None, fusion_size=3 if fusion != "late" else None, head_hidden=[4], task=task, outputs=C,
            modalities=mods, lengths=lengths))
        n += 1
    # Token ids [B, T] (kind tokens: one column of ids, -1 past each length) through an embedding, trained (rows
    # touched more than once, and never) or frozen (no gradient), then the recurrent stack.
    tokens = lambda base, vocab, embed, hidden, frozen: dict(
        name=base["name"], features=1, steps=base["steps"], hidden=hidden, kind="tokens", vocab=vocab, embed=embed,
        frozen=frozen)
    for name, fusion, cell, bidirectional, mods in [
            ("late_tokens_trained", "late", "lstm", False, [tokens(SEPARATE[0], 7, 3, 4, False), SEPARATE[1]]),
            ("attention_tokens_frozen_gru_bi", "attention", "gru", True,
             [SEPARATE[1], tokens(SEPARATE[2], 6, 2, 3, True)]),
            ("gated_tokens_trained_and_frozen", "gated", "lstm", False,
             [tokens(SEPARATE[0], 5, 3, 3, True), tokens(SEPARATE[2], 8, 2, 4, False)])]:
        task, C = TASKS[n % 3]
        lengths = {m["name"]: list(SEPARATE_LENGTHS[m["name"]]) for m in mods}
        out.append(dict(
            name=name, seed=2000 + n, fusion=fusion, cell=cell, bidirectional=bidirectional, pooling="last", layers=1,
            attention_size=None, fusion_size=3 if fusion != "late" else None, head_hidden=[4], task=task, outputs=C,
            modalities=mods, lengths=lengths))
        n += 1
    return out


def f32(t):
    """Round to the nearest float32, kept as float64."""
    return t.to(torch.float32).to(torch.float64)


def tensor_json(t, digits=None):
    """{"shape", "data"} row-major; outputs rounded to `digits` significant digits (params/inputs exact)."""
    flat = t.detach().contiguous().reshape(-1).tolist()
    return {"shape": list(t.shape), "data": flat if digits is None else [float(f"{v:.{digits}g}") for v in flat]}


def spec_of(c):
    return {k: c[k] for k in ["fusion", "cell", "layers", "bidirectional", "pooling", "attention_size", "fusion_size",
                              "head_hidden", "outputs", "task", "modalities"]} | {"dropout": 0.0}


def make_targets(task, C):
    if task == "multiclass":
        return torch.randint(0, C, (B,)).to(torch.float64)
    if task == "binary":
        return torch.randint(0, 2, (B,)).to(torch.float64)
    return f32(torch.randn(B, C, dtype=torch.float64))


def forward_backward(model, spec, inputs, lengths, targets):
    xs = [inputs[m["name"]].clone().requires_grad_(m.get("kind") != "tokens") for m in spec["modalities"]]
    ls = [torch.tensor(lengths[m["name"]], dtype=torch.int64) for m in spec["modalities"]]
    model.zero_grad()
    logits = model(xs, ls)
    loss = loss_fn(spec["task"], logits, targets)
    loss.backward()
    return logits, loss, xs


def make_case(c):
    torch.manual_seed(c["seed"])
    spec = spec_of(c)
    model = MultimodalModel(spec).double()
    with torch.no_grad():
        for k, p in model.named_parameters():
            if "bias" in k or "weight_c" in k:
                p.add_(0.1 * torch.randn_like(p))
            p.copy_(f32(p))
    inputs = {m["name"]: f32(torch.randn(B, m["steps"], m["features"], dtype=torch.float64)) for m in spec["modalities"]}
    for m in spec["modalities"]:                        # token ids: 0..V-1 at the valid steps, -1 past them
        if m.get("kind") == "tokens":
            ids = torch.randint(0, m["vocab"], (B, m["steps"], 1)).to(torch.float64)
            for b, L in enumerate(c["lengths"][m["name"]]):
                ids[b, L:] = -1
            inputs[m["name"]] = ids
    targets = make_targets(spec["task"], spec["outputs"])
    logits, loss, xs = forward_backward(model, spec, inputs, c["lengths"], targets)
    keys = list(model.state_dict().keys())
    named = dict(model.named_parameters())
    assert keys == list(named), "every state_dict entry is a parameter"
    fused = [max(1, max(c["lengths"][m["name"]][b] for m in spec["modalities"])) for b in range(B)]
    return {
        "name": c["name"], "generator": GENERATOR, "torch_version": torch.__version__, "seed": c["seed"],
        "spec": spec, "state_dict_keys": keys,
        "params": {k: tensor_json(v) for k, v in model.state_dict().items()},
        "inputs": {n: tensor_json(x) for n, x in inputs.items()},
        "lengths": c["lengths"], "fused_lengths": fused,
        "targets": tensor_json(targets),
        "logits": tensor_json(logits, 12), "loss": loss.item(),
        "grads": {k: tensor_json(grad_of(named[k]), 12) for k in keys},
        "dx": {m["name"]: tensor_json(grad_of(x), 12) for m, x in zip(spec["modalities"], xs)},
    }


def grad_of(t):
    """A tensor's gradient; zeros where there is none (a frozen embedding, token ids)."""
    return t.grad if t.grad is not None else torch.zeros_like(t)


def dec(d):
    return torch.tensor(d["data"], dtype=torch.float64).reshape(d["shape"])


def verify(path):
    """Reload a fixture, rebuild the module from it (strict) and recompute everything."""
    with open(path) as f:
        j = json.load(f)
    spec = j["spec"]
    model = MultimodalModel(spec).double()
    assert list(model.state_dict().keys()) == j["state_dict_keys"] == list(j["params"]) == list(j["grads"])
    model.load_state_dict({k: dec(v) for k, v in j["params"].items()}, strict=True)
    inputs = {n: dec(v) for n, v in j["inputs"].items()}
    logits, loss, xs = forward_backward(model, spec, inputs, j["lengths"], dec(j["targets"]))
    named = dict(model.named_parameters())
    rel = lambda a, b: (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)
    errs = [abs(loss.item() - j["loss"]), rel(logits.detach(), dec(j["logits"]))]
    errs += [rel(grad_of(named[k]), dec(g)) for k, g in j["grads"].items()]
    errs += [rel(grad_of(x), dec(j["dx"][m["name"]])) for m, x in zip(spec["modalities"], xs)]
    zero_grads = [k for k in j["grads"] if dec(j["grads"][k]).abs().max().item() == 0 and named[k].requires_grad]
    ok = max(errs) < 1e-9 and not zero_grads
    print(f"verify {os.path.basename(path)}: loss={j['loss']:.6f} max rel err={max(errs):.2g}"
          f"{' ZERO GRADIENT: ' + ', '.join(zero_grads) if zero_grads else ''} -> {'OK' if ok else 'FAIL'}")
    return ok


def check_peephole_module():
    """PeepholeLSTM with zero peepholes is nn.LSTM over packed sequences (both directions, 2 layers)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    from zoo_modules import PeepholeLSTM
    torch.manual_seed(7)
    ref = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    mine = PeepholeLSTM(3, 4, num_layers=2, bidirectional=True).double()
    with torch.no_grad():
        for k, p in mine.named_parameters():
            p.copy_(getattr(ref, k) if hasattr(ref, k) else torch.zeros_like(p))
    x, lengths = torch.randn(4, 5, 3, dtype=torch.float64), torch.tensor([5, 2, 1, 3])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=5)
    err = (mine(x, lengths) - want).abs().max().item()
    print(f"PeepholeLSTM with zero peepholes vs packed nn.LSTM: max |diff| = {err:.2g}")
    return err < 1e-12


def main(only):
    torch.set_num_threads(1)
    if not check_peephole_module():
        return 1
    all_cases = cases()
    assert len({c["name"] for c in all_cases}) == len(all_cases)
    unknown = set(only) - {c["name"] for c in all_cases}
    if unknown:
        print(f"unknown case(s): {', '.join(sorted(unknown))}")
        return 1
    if only:
        all_cases = [c for c in all_cases if c["name"] in only]
    else:
        for old in glob.glob(os.path.join(HERE, "zoo_*.json")):
            os.remove(old)
    total = 0
    for c in all_cases:
        path = os.path.join(HERE, f"zoo_{c['name']}.json")
        with open(path, "w") as f:
            json.dump(make_case(c), f, separators=(",", ":"))
            f.write("\n")
        total += os.path.getsize(path)
    print(f"wrote {len(all_cases)} fixtures, {total} bytes")
    ok = all([verify(os.path.join(HERE, f"zoo_{c['name']}.json")) for c in all_cases])
    print("ALL OK" if ok else "VERIFICATION FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
