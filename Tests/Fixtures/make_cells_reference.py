#!/usr/bin/env python3
"""PyTorch float64 reference fixtures for mmtrain's recurrent layers (Sources/MMModel/Recurrent).

What it produces
----------------
One JSON file per case, Tests/Fixtures/cells/cells_{cell}_{uni|bi}_{layers}layer.json, for
cell in (lstm, lstm_peephole, gru) x (unidirectional, bidirectional) x (1, 2 layers); B=5, T=5, D=4, H=3,
lengths [5, 0, 2, 1, 4] (0 and T included):

    {"cell", "bidirectional", "layers", "B", "T", "D", "H", "lengths": [B], "generator", "torch_version",
     "state_dict_keys": [...],                            # the module's state_dict order (no prefix)
     "params": {key: {"shape", "data"}},                  # float64, flattened row-major
     "x": (B, T, D), "R": (B, T, O), "out": (B, T, O),    # O = H or 2H; out is 0 at steps >= length
     "grads": {key: ...}, "dx": (B, T, D)}                # of loss = sum(out * R) over valid steps

The modules
-----------
lstm, gru: nn.LSTM / nn.GRU(D, H, num_layers, bidirectional, batch_first=True).double(), run on
pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False) so the reverse direction sees only
each sample's valid steps; samples of length 0 (which packing refuses) get zero outputs and gradients.

lstm_peephole: PyTorch has none; PeepholeLSTM below is the reference (diagonal peepholes, Gers &
Schmidhuber): i = σ(W_ii x + b_ii + W_hi h + b_hi + w_ci ⊙ c_{t-1}), f likewise with w_cf, g = tanh(...),
c_t = f ⊙ c_{t-1} + i ⊙ g, o = σ(... + w_co ⊙ c_t), h_t = o ⊙ tanh(c_t). Keys: nn.LSTM's, plus weight_ci_l{k},
weight_cf_l{k}, weight_co_l{k} ([H] each) after bias_hh_l{k}, then the same with `_reverse`. Self-check: with
its peepholes at zero it must reproduce nn.LSTM (outputs and every gradient) to 1e-12, which the script asserts.

Parameters: PyTorch's default init for the seed, U(-1/sqrt(H), 1/sqrt(H)) (peepholes too), then + 0.1 randn on
the biases so bias bugs show. x, R = randn.

Regenerate (from the repo root; needs `pip install torch`):

    python3 Tests/Fixtures/make_cells_reference.py
"""

import json
import math
import os

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cells")
GENERATOR = "Tests/Fixtures/make_cells_reference.py"
B, T, D, H = 5, 5, 4, 3
LENGTHS = [5, 0, 2, 1, 4]


class PeepholeLSTM(nn.Module):
    """Diagonal-peephole LSTM over (B, T, D) batch-first inputs with per-sample lengths; reverse directions run
    over each sample's valid steps only (as a packed sequence). Written as plain loops: it is a reference."""

    def __init__(self, D, H, num_layers, bidirectional):
        super().__init__()
        self.H, self.layers, self.dirs = H, num_layers, (2 if bidirectional else 1)
        bound = 1 / math.sqrt(H)
        for k in range(num_layers):
            Dk = D if k == 0 else H * self.dirs
            for suffix in ["", "_reverse"][: self.dirs]:
                for name, shape in [("weight_ih", (4 * H, Dk)), ("weight_hh", (4 * H, H)), ("bias_ih", (4 * H,)),
                                    ("bias_hh", (4 * H,)), ("weight_ci", (H,)), ("weight_cf", (H,)), ("weight_co", (H,))]:
                    p = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                    self.register_parameter(f"{name}_l{k}{suffix}", p)

    def direction(self, seq, k, suffix):            # seq (L, Dk) -> (L, H)
        p = lambda n: getattr(self, f"{n}_l{k}{suffix}")
        Wih, Whh, bih, bhh = p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh")
        wci, wcf, wco = p("weight_ci"), p("weight_cf"), p("weight_co")
        H = self.H
        h = seq.new_zeros(H)
        c = seq.new_zeros(H)
        outs = []
        for x in seq:
            a = Wih @ x + bih + Whh @ h + bhh
            i = torch.sigmoid(a[0:H] + wci * c)
            f = torch.sigmoid(a[H:2 * H] + wcf * c)
            g = torch.tanh(a[2 * H:3 * H])
            c = f * c + i * g
            o = torch.sigmoid(a[3 * H:4 * H] + wco * c)
            h = o * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs)

    def forward(self, x, lengths):                  # x (B, T, D), lengths (B) -> (B, T, dirs*H), 0 past lengths
        Bn, Tn, _ = x.shape
        rows = []
        for b in range(Bn):
            L = int(lengths[b])
            seq = x[b, :L]
            if L > 0:
                for k in range(self.layers):
                    fwd = self.direction(seq, k, "")
                    if self.dirs == 2:
                        rev = self.direction(seq.flip(0), k, "_reverse").flip(0)
                        fwd = torch.cat([fwd, rev], dim=1)
                    seq = fwd
            full = x.new_zeros(Tn, self.dirs * self.H)
            if L > 0:
                full = torch.cat([seq, x.new_zeros(Tn - L, self.dirs * self.H)], dim=0)
            rows.append(full)
        return torch.stack(rows)


class Packed(nn.Module):
    """nn.LSTM / nn.GRU over a packed sequence; outputs (B, T, O), zero past each length (and for length 0)."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, lengths):
        keep = [b for b in range(x.shape[0]) if lengths[b] > 0]
        packed = pack_padded_sequence(x[keep], torch.tensor([lengths[b] for b in keep]), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        full = x.new_zeros(x.shape[0], x.shape[1], out.shape[2])
        full[keep] = out
        return full


def make_module(cell, layers, bi):
    if cell == "lstm_peephole":
        return PeepholeLSTM(D, H, layers, bi).double()
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](D, H, num_layers=layers, bidirectional=bi, batch_first=True)
    return Packed(rnn).double()


def state_dict(module):                             # keys as the bare nn.LSTM/nn.GRU has them
    return {k.removeprefix("rnn."): v for k, v in module.state_dict().items()}


def run(module, x, lengths, R):
    module.zero_grad()
    x = x.clone().requires_grad_(True)
    out = module(x, lengths)
    mask = torch.tensor([[1.0 if t < L else 0.0 for t in range(T)] for L in lengths], dtype=torch.float64)
    (out * R * mask[:, :, None]).sum().backward()
    grads = {k.removeprefix("rnn."): p.grad.clone() for k, p in module.named_parameters()}
    return out.detach(), grads, x.grad.clone()


def enc(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def self_check(layers, bi, x, R):
    """The peephole reference with zero peepholes against nn.LSTM over a packed sequence."""
    torch.manual_seed(99)
    ref = make_module("lstm", layers, bi)
    pee = make_module("lstm_peephole", layers, bi)
    sd = {k: v for k, v in state_dict(ref).items()}
    for k, v in state_dict(pee).items():
        if k not in sd:
            sd[k] = torch.zeros_like(v)
    pee.load_state_dict(sd, strict=True)
    o1, g1, d1 = run(ref, x, LENGTHS, R)
    o2, g2, d2 = run(pee, x, LENGTHS, R)
    err = max([(o1 - o2).abs().max().item(), (d1 - d2).abs().max().item()] + [(g1[k] - g2[k]).abs().max().item() for k in g1])
    assert err < 1e-12, f"peephole reference with zero peepholes differs from nn.LSTM by {err}"
    print(f"self-check peephole(0) == nn.LSTM layers={layers} bidirectional={bi}: max diff {err:.2g}")


def make_case(cell, bi, layers, seed):
    torch.manual_seed(seed)
    module = make_module(cell, layers, bi)
    with torch.no_grad():
        for k, p in module.named_parameters():
            if "bias" in k:
                p.add_(0.1 * torch.randn_like(p))
    O = H * (2 if bi else 1)
    x = torch.randn(B, T, D, dtype=torch.float64)
    R = torch.randn(B, T, O, dtype=torch.float64)
    sd = state_dict(module)
    out, grads, dx = run(module, x, LENGTHS, R)
    if cell == "lstm_peephole":
        self_check(layers, bi, x, R)
    return {
        "cell": cell, "bidirectional": bi, "layers": layers, "B": B, "T": T, "D": D, "H": H,
        "lengths": LENGTHS, "generator": GENERATOR, "torch_version": torch.__version__, "seed": seed,
        "state_dict_keys": list(sd.keys()),
        "params": {k: enc(v) for k, v in sd.items()},
        "x": enc(x), "R": enc(R), "out": enc(out),
        "grads": {k: enc(grads[k]) for k in sd},
        "dx": enc(dx),
    }


def main():
    torch.set_num_threads(1)
    os.makedirs(HERE, exist_ok=True)
    seed = 2000
    for cell in ["lstm", "lstm_peephole", "gru"]:
        for bi in [False, True]:
            for layers in [1, 2]:
                seed += 1
                case = make_case(cell, bi, layers, seed)
                name = f"cells_{cell}_{'bi' if bi else 'uni'}_{layers}layer.json"
                with open(os.path.join(HERE, name), "w") as f:
                    json.dump(case, f, separators=(",", ":"))
                print(f"wrote {name}: {len(case['state_dict_keys'])} tensors")


if __name__ == "__main__":
    main()
