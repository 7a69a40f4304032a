"""The PyTorch module equivalent to every mmtrain architecture (Sources/MMModel/Composite).

`MultimodalModel(spec)` has exactly the state_dict (names, order, shapes) of the Swift model's parameter
arena, which is what a checkpoint's /params holds, so

    model = MultimodalModel(spec)
    model.load_state_dict({k: torch.from_numpy(f["params"][k][()]) for k in f["params"]}, strict=True)

loads any mmtrain checkpoint. `spec` is a dict (the reference fixtures' "spec"):

    {"fusion": "early|late|attention|tensor|gated", "cell": "lstm|lstm_peephole|gru", "layers": int,
     "bidirectional": bool, "pooling": "last|mean|max|attention", "attention_size": int|None,
     "fusion_size": int|None, "head_hidden": int|[int]|None, "dropout": float, "outputs": int, "task": str,
     "modalities": [{"name": str, "features": int, "steps": int, "hidden": int|[int],         # model order
                     "kind": "sequence"|"static", "encoder": {"kind": "mlp", "widths": [int]}}, ...],
     "target": "sample"|"step"}                                                  # optional, default sample

An image sequence (`kind: image_sequence`, `shape` [C, H, W] per frame, `features` C·H·W, `steps` T) has an
Encoder whose `conv` (as an image's) runs on every frame before its recurrent stack: `encoders.<m>.conv.*`, then
`encoders.<m>.lstm.*` (CNN-LSTM).
An image (`kind: image`, `shape` [C, H, W], `features` C·H·W, `steps` 1) has an ImageEncoder: `encoders.<m>.conv`
= nn.Sequential(Conv2d(k, padding=k//2), ReLU, MaxPool2d(p), ...) per entry of its encoder's `channels`, flattened.
A static modality (`kind: static`, a vector [B, D] per sample, `steps` 1) has a StaticEncoder: `encoders.<m>.mlp`
= nn.Sequential(Linear, ReLU, ...) per width of its `encoder`, or nothing (widths []).
Token ids (`kind: tokens`, `features` 1: the id as a float, `steps` T, `vocab` V, `embed` E, `frozen` bool) have an
nn.Embedding(V, E), `embed.<m>.weight`, registered after the head (trained tables first, then frozen ones, which
do not require grad: nn.Embedding.from_pretrained), whose vectors the modality's Encoder reads. Ids past a
sample's length are never looked up (they may be -1).
`hidden` as a list gives each layer its width (mmtrain's `model.hidden: [128, 64]`); `head_hidden` as a
list gives the head one Linear+ReLU per width (`model.head_hidden: [32, 16]`).

Layout (the state_dict follows the order the modules are registered):

    early      fusion.{lstm|gru}.*  [fusion.pool.proj, fusion.pool.score]  head
    late       encoders.<m>.{lstm|gru}.*  [encoders.<m>.pool.*]  (per modality, model order)            head
    attention  encoders.<m>.*  fusion.proj.<m> (per modality)  fusion.query  fusion.key  fusion.value  head
    tensor     encoders.<m>.*  fusion.proj.<m> (per modality)                                          head
    gated      encoders.<m>.*  fusion.proj.<m> (per modality)  fusion.gate.<m> (per modality)          head
    head       nn.Linear(F, C) when head_hidden is 0 or [], else nn.Sequential(Linear(F, W_1), ReLU(), ...,
               Linear(W_n, C)) (head.0, head.2, ..., head.2n)
    widths     `hidden` a list of differing widths: encoders.<m>.lstm.<k>.* (nn.ModuleList of one-layer modules)

`target: step` (early fusion): forward returns logits (B, T, C), the head at every step of the top layer's
output (zero past each sample's length, as pad_packed_sequence), and step_loss_fn is the masked loss.

Inputs of `forward(xs, lengths)`: xs[m] (B, T_m, D_m) batch-first; lengths[m] (B,) int64 in 0..T_m, 0 = the
modality is absent for that sample. Early fusion concatenates the modalities along features on one time
axis (all T_m equal) and runs one encoder over the fused lengths max_m lengths[m] (at least 1).
Cells run over each sample's valid steps only (pack_padded_sequence), so padding never enters the reverse
direction; an absent modality pools to zeros.
"""

import math

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class PeepholeLSTM(nn.Module):
    """nn.LSTM with diagonal peepholes (Gers & Schmidhuber 2000); gate order i, f, g, o as nn.LSTM:

        i = σ(W_ii x + b_ii + W_hi h + b_hi + w_ci ⊙ c_{t-1})     f = σ(... + w_cf ⊙ c_{t-1})
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)                   c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(W_io x + b_io + W_ho h + b_ho + w_co ⊙ c_t)         h_t = o ⊙ tanh(c_t)

    Per layer k and direction: weight_ih_l{k} (4H, D), weight_hh_l{k} (4H, H), bias_ih_l{k} (4H),
    bias_hh_l{k} (4H), weight_ci_l{k}, weight_cf_l{k}, weight_co_l{k} (H), then the same with `_reverse`.
    All drawn from U(-1/√H, 1/√H) as nn.LSTM. forward(x (B, T, D), lengths (B,) >= 1) -> (B, T, dirs*H),
    zero past each sample's length (as pad_packed_sequence).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bidirectional=False, dropout=0.0):
        super().__init__()
        self.hidden_size, self.num_layers, self.bidirectional, self.dropout = hidden_size, num_layers, bidirectional, dropout
        H, dirs = hidden_size, 2 if bidirectional else 1
        for k in range(num_layers):
            D = input_size if k == 0 else H * dirs
            for sfx in [""] + (["_reverse"] if bidirectional else []):
                s = f"_l{k}{sfx}"
                for name, shape in [("weight_ih", (4 * H, D)), ("weight_hh", (4 * H, H)), ("bias_ih", (4 * H,)),
                                    ("bias_hh", (4 * H,)), ("weight_ci", (H,)), ("weight_cf", (H,)), ("weight_co", (H,))]:
                    self.register_parameter(name + s, nn.Parameter(torch.empty(shape)))
        bound = 1 / math.sqrt(H)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _run(self, x, s):
        """One direction over all T steps of x (B, T, D) from zero state -> (B, T, H)."""
        p = lambda n: getattr(self, n + s)
        B, T, _ = x.shape
        H = self.hidden_size
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        pre = x @ p("weight_ih").T + p("bias_ih") + p("bias_hh")        # (B, T, 4H)
        out = []
        for t in range(T):
            z = pre[:, t] + h @ p("weight_hh").T
            zi, zf, zg, zo = z.chunk(4, dim=1)
            i = torch.sigmoid(zi + p("weight_ci") * c)
            f = torch.sigmoid(zf + p("weight_cf") * c)
            c = f * c + i * torch.tanh(zg)
            o = torch.sigmoid(zo + p("weight_co") * c)
            h = o * torch.tanh(c)
            out.append(h)
        return torch.stack(out, dim=1)

    def forward(self, x, lengths):
        B, T, _ = x.shape
        t = torch.arange(T).expand(B, T)
        L = lengths.view(B, 1)
        valid = (t < L).unsqueeze(-1).to(x.dtype)                      # (B, T, 1)
        rev = torch.where(t < L, L - 1 - t, t)                         # reverses each sample's valid steps
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                x = nn.functional.dropout(x, self.dropout, True)
            outs = [self._run(x, f"_l{k}") * valid]
            if self.bidirectional:
                gather = lambda a: a.gather(1, rev.unsqueeze(-1).expand(-1, -1, a.shape[2]))
                outs.append(gather(self._run(gather(x), f"_l{k}_reverse")) * valid)
            x = torch.cat(outs, dim=2)
        return x


class Pool(nn.Module):
    """(B, T, Hs) -> (B, Hs) over valid steps t < L only; L = 0 pools to zeros.

        last       h_{L-1}; bidirectional: forward half at L-1, reverse half at 0 (as h_n)
        mean       (1/L) Σ_{t<L} h_t
        max        max_{t<L} h_t per feature
        attention  e_t = vᵀ tanh(W h_t + b); α = softmax_{t<L}(e); Σ α_t h_t
                   proj = nn.Linear(Hs, A), score = nn.Linear(A, 1, bias=False)
    """

    def __init__(self, kind, size, attention_size, bidirectional):
        super().__init__()
        self.kind, self.bidirectional = kind, bidirectional
        if kind == "attention":
            self.proj = nn.Linear(size, attention_size)
            self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, h, lengths):
        B, T, Hs = h.shape
        present = lengths > 0
        # Samples with L = 0 attend over every step (keeps softmax/max finite); their result is zeroed below.
        valid = (torch.arange(T).expand(B, T) < lengths.view(B, 1)) | ~present.view(B, 1)
        if self.kind == "last":
            last = h[torch.arange(B), (lengths - 1).clamp(min=0)]
            if self.bidirectional:
                last = torch.cat([last[:, : Hs // 2], h[:, 0, Hs // 2:]], dim=1)
            out = last
        elif self.kind == "mean":
            out = (h * valid.unsqueeze(-1)).sum(1) / valid.sum(1, keepdim=True)
        elif self.kind == "max":
            out = h.masked_fill(~valid.unsqueeze(-1), float("-inf")).max(dim=1).values
        else:
            e = self.score(torch.tanh(self.proj(h))).squeeze(-1).masked_fill(~valid, float("-inf"))
            out = (torch.softmax(e, dim=1).unsqueeze(-1) * h).sum(1)
        return torch.where(present.view(B, 1), out, torch.zeros_like(out))


def widths(hidden, layers):
    """`hidden` (an int, or a list of one width per layer) as one width per layer."""
    return list(hidden) if isinstance(hidden, (list, tuple)) else [hidden] * layers


def recurrent(cell, features, hidden, **args):
    """nn.LSTM, nn.GRU or PeepholeLSTM (`args`: num_layers, bidirectional, dropout)."""
    if cell == "lstm":
        return nn.LSTM(features, hidden, batch_first=True, **args)
    if cell == "gru":
        return nn.GRU(features, hidden, batch_first=True, **args)
    if cell == "lstm_peephole":
        return PeepholeLSTM(features, hidden, **args)
    raise ValueError(f"unknown cell {cell!r}")


def run_recurrent(cell, rnn, x, run):
    """One recurrent module over each sample's valid steps `run` (>= 1) -> (B, T, dirs*H), zero past them."""
    if cell == "lstm_peephole":
        return rnn(x, run)
    packed = pack_padded_sequence(x, run.cpu(), batch_first=True, enforce_sorted=False)
    h, _ = pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.shape[1])
    return h


class Encoder(nn.Module):
    """A recurrent stack over one modality's (or early fusion's) steps, then a pooling.

    `lstm` = nn.LSTM, `gru` = nn.GRU (gate order r, z, n), or PeepholeLSTM (also named `lstm`), with the
    stack's `dropout` between layers as nn.LSTM's; `pool` holds attention pooling's parameters.
    When `hidden` is a list of widths that differ (`[128, 64]`, Keras' LSTM(128, return_sequences=True) ->
    LSTM(64)), one nn.LSTM(num_layers=L) cannot hold it: `lstm` (or `gru`) is then an nn.ModuleList of
    one-layer modules, `lstm.<k>.weight_ih_l0`, with nn.Dropout(dropout) between them.
    """

    def __init__(self, cell, features, hidden, layers, bidirectional, pooling, attention_size, dropout=0.0,
                 frames=None):
        super().__init__()
        self.cell = cell
        self.frames = frames                            # an image sequence: (shape [C, H, W], its conv encoder)
        if frames is not None:                          # conv over every frame (TimeDistributed), first in the state_dict
            self.conv = ImageEncoder(frames[0], frames[1]).conv
            features = image_output(frames[0], frames[1])
        sizes = widths(hidden, layers)
        self.stacked = len(set(sizes)) > 1
        dirs = 2 if bidirectional else 1
        if self.stacked:
            inputs = [features] + [dirs * h for h in sizes[:-1]]
            rnn = nn.ModuleList([recurrent(cell, d, h, num_layers=1, bidirectional=bidirectional)
                                 for d, h in zip(inputs, sizes)])
            self.between = nn.Dropout(dropout)
        else:
            rnn = recurrent(cell, features, sizes[0], num_layers=layers, bidirectional=bidirectional,
                            dropout=dropout if layers > 1 else 0.0)
        setattr(self, "gru" if cell == "gru" else "lstm", rnn)
        size = sizes[-1] * dirs
        self.pool = Pool(pooling, size, attention_size or size, bidirectional)

    def sequence(self, x, lengths):                     # x (B, T, D), lengths (B,) in 0..T -> (B, T, Hs)
        run = lengths.clamp(min=1)                      # pack_padded_sequence needs >= 1; L = 0 pools to zeros
        if self.frames is not None:                     # (B, T, C·H·W) -> every frame through the conv -> (B, T, F)
            B, T = x.shape[:2]
            x = self.conv(x.reshape(B * T, *self.frames[0])).flatten(1).reshape(B, T, -1)
        rnn = self.gru if self.cell == "gru" else self.lstm
        if self.stacked:
            h = x
            for k, layer in enumerate(rnn):
                h = run_recurrent(self.cell, layer, self.between(h) if k > 0 else h, run)
            return h
        return run_recurrent(self.cell, rnn, x, run)

    def forward(self, x, lengths):                      # x (B, T, D), lengths (B,) in 0..T -> (B, Hs)
        return self.pool(self.sequence(x, lengths), lengths)


class StaticEncoder(nn.Module):
    """A static vector's encoder (`model.encoders.<m>: {kind: mlp, widths}`): `mlp` = nn.Sequential(Linear,
    ReLU, ...) per width, or nothing (widths []: the vector as it is). x (B, D) (or (B, 1, D)) -> (B, P); a
    sample whose length is 0 (the modality dropped) gives zeros."""

    def __init__(self, features, widths):
        super().__init__()
        sizes, layers = [features] + list(widths), []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x, lengths):
        out = self.mlp(x.reshape(x.shape[0], -1))
        return torch.where((lengths > 0).view(-1, 1), out, torch.zeros_like(out))


class ImageEncoder(nn.Module):
    """An image's encoder (`model.encoders.<m>: {kind: conv, channels, kernel, pool}`): `conv` = nn.Sequential(
    Conv2d(k, padding=k//2), ReLU, MaxPool2d(p)) per channel count, then flatten. x (B, C, H, W) (or any
    (B, ...) holding C·H·W per sample) -> (B, C_n·Hp·Wp); an absent sample (length 0) gives zeros."""

    def __init__(self, shape, encoder):
        super().__init__()
        self.shape = shape
        c, layers = shape[0], []
        for co in encoder["channels"]:
            layers += [nn.Conv2d(c, co, encoder["kernel"], padding=encoder["kernel"] // 2), nn.ReLU(),
                       nn.MaxPool2d(encoder["pool"])]
            c = co
        self.conv = nn.Sequential(*layers)

    def forward(self, x, lengths):
        out = self.conv(x.reshape(x.shape[0], *self.shape)).flatten(1)
        return torch.where((lengths > 0).view(-1, 1), out, torch.zeros_like(out))


def image_output(shape, encoder):
    c, h, w = shape
    k, p = encoder["kernel"], encoder["pool"]
    for co in encoder["channels"]:
        c, h, w = co, (h + 2 * (k // 2) - k + 1) // p, (w + 2 * (k // 2) - k + 1) // p
    return c * h * w


def is_static(m):
    return m.get("kind") == "static"


def static_widths(m):
    return (m.get("encoder") or {"widths": []})["widths"]


class AttentionFusion(nn.Module):
    """tok_m = proj_m(p_m) (F); q, k, v = query/key/value(tok); o_i = Σ_j softmax_j(q_i·k_j/√F) v_j over
    present j; fused = mean of o_i over present i (zeros when none is present). present = length > 0."""

    def __init__(self, names, pooled, size):
        super().__init__()
        self.proj = nn.ModuleDict({n: nn.Linear(p, size) for n, p in zip(names, pooled)})
        self.query, self.key, self.value = nn.Linear(size, size), nn.Linear(size, size), nn.Linear(size, size)
        self.size = size

    def forward(self, pooled, present):                 # pooled [(B, P_m)], present (B, M) bool -> (B, F)
        tok = torch.stack([proj(p) for proj, p in zip(self.proj.values(), pooled)], dim=1)   # (B, M, F)
        q, k, v = self.query(tok), self.key(tok), self.value(tok)
        any_present = present.any(dim=1, keepdim=True)
        keys = present | ~any_present                   # no present token: keep softmax finite, zeroed below
        s = (q @ k.transpose(1, 2) / math.sqrt(self.size)).masked_fill(~keys.unsqueeze(1), float("-inf"))
        o = torch.softmax(s, dim=2) @ v                 # (B, M, F)
        w = present.to(o.dtype).unsqueeze(-1)
        return (o * w).sum(1) / w.sum(1).clamp(min=1)


class TensorFusion(nn.Module):
    """Tensor Fusion Network: z_m = [proj_m(p_m), 1] (F+1); z_0 ⊗ z_1 ⊗ ... flattened, z_0 the slowest index."""

    def __init__(self, names, pooled, size):
        super().__init__()
        self.proj = nn.ModuleDict({n: nn.Linear(p, size) for n, p in zip(names, pooled)})

    def forward(self, pooled):
        out = None
        for proj, p in zip(self.proj.values(), pooled):
            z = torch.cat([proj(p), p.new_ones(p.shape[0], 1)], dim=1)
            out = z if out is None else (out.unsqueeze(2) * z.unsqueeze(1)).reshape(p.shape[0], -1)
        return out


class GatedFusion(nn.Module):
    """Gated multimodal unit over M modalities, one per-feature gate per modality from all pooled vectors:
    z_m = proj_m(p_m) (F);  g_m = σ(gate_m([p_0; ...; p_{M-1}])) (F);  fused = Σ_m g_m ⊙ tanh(z_m)."""

    def __init__(self, names, pooled, size):
        super().__init__()
        self.proj = nn.ModuleDict({n: nn.Linear(p, size) for n, p in zip(names, pooled)})
        self.gate = nn.ModuleDict({n: nn.Linear(sum(pooled), size) for n in names})

    def forward(self, pooled):
        cat = torch.cat(pooled, dim=1)
        return sum(torch.sigmoid(gate(cat)) * torch.tanh(proj(p))
                   for proj, gate, p in zip(self.proj.values(), self.gate.values(), pooled))


def resolved(spec):
    """The spec with mmtrain's defaults filled in (ModelSpec.resolvedFusionSize / resolvedHeadHidden)."""
    s = dict(spec)
    dirs = 2 if s.get("bidirectional") else 1
    top = lambda m: widths(m["hidden"], s["layers"])[-1]
    size = lambda m: (image_output(m["shape"], m["encoder"]) if m.get("kind") == "image"
                      else (static_widths(m) or [m["features"]])[-1] if is_static(m) else top(m) * dirs)
    pooled = [size(m) for m in s["modalities"]]
    if s["fusion"] == "early":
        pooled = [top(s["modalities"][0]) * dirs]
    s.setdefault("dropout", 0.0)
    if s.get("fusion_size") is None:
        s["fusion_size"] = 8 if s["fusion"] == "tensor" else max(pooled)
    if s.get("head_hidden") is None:
        s["head_hidden"] = 0 if s["fusion"] == "early" else 64
    if not isinstance(s["head_hidden"], (list, tuple)):
        s["head_hidden"] = [s["head_hidden"]] if s["head_hidden"] > 0 else []
    s["pooled"] = pooled
    return s


def head(fused, hidden, C):
    """nn.Linear(F, C) for hidden [], else nn.Sequential(Linear(F, W_1), ReLU(), ..., Linear(W_n, C)):
    the Linear layers are head.0, head.2, ..., head.2n."""
    if not hidden:
        return nn.Linear(fused, C)
    sizes, layers = [fused] + list(hidden), []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], C))


class MultimodalModel(nn.Module):
    """encoders -> fusion -> dropout -> head, as mmtrain's MultimodalModel (see the module docstring)."""

    def __init__(self, spec):
        super().__init__()
        s = resolved(spec)
        self.spec = s
        mods, names = s["modalities"], [m["name"] for m in s["modalities"]]
        enc = lambda features, hidden, frames=None: Encoder(s["cell"], features, hidden, s["layers"], s["bidirectional"],
                                                            s["pooling"], s.get("attention_size"), s["dropout"], frames)
        Fs = s["fusion_size"]
        if s["fusion"] == "early":
            self.fusion = enc(sum(m["features"] for m in mods), mods[0]["hidden"])
            fused = s["pooled"][0]
        else:
            self.encoders = nn.ModuleDict({
                m["name"]: enc(m["features"], m["hidden"], (m["shape"], m["encoder"])) if m.get("kind") == "image_sequence"
                else enc(m["embed"], m["hidden"]) if m.get("kind") == "tokens"
                else ImageEncoder(m["shape"], m["encoder"]) if m.get("kind") == "image"
                else StaticEncoder(m["features"], static_widths(m)) if is_static(m) else enc(m["features"], m["hidden"])
                for m in mods})
            if s["fusion"] == "late":
                fused = sum(s["pooled"])
            elif s["fusion"] == "attention":
                self.fusion = AttentionFusion(names, s["pooled"], Fs)
                fused = Fs
            elif s["fusion"] == "tensor":
                self.fusion = TensorFusion(names, s["pooled"], Fs)
                fused = (Fs + 1) ** len(mods)
            elif s["fusion"] == "gated":
                self.fusion = GatedFusion(names, s["pooled"], Fs)
                fused = Fs
            else:
                raise ValueError(f"unknown fusion {s['fusion']!r}")
        self.drop = nn.Dropout(s["dropout"])
        self.head = head(fused, s["head_hidden"], s["outputs"])
        tables = [m for m in mods if m.get("kind") == "tokens"]
        if tables:                                      # after the head: trained tables, then frozen ones
            tables = [m for m in tables if not m.get("frozen")] + [m for m in tables if m.get("frozen")]
            self.embed = nn.ModuleDict({m["name"]: nn.Embedding(m["vocab"], m["embed"]) for m in tables})
            for m in tables:
                self.embed[m["name"]].weight.requires_grad_(not m.get("frozen"))

    def embedded(self, xs, lengths):
        """Token modalities' ids (B, T, 1) -> their vectors (B, T, E); ids past each length are not looked up."""
        out = []
        for m, x, L in zip(self.spec["modalities"], xs, lengths):
            if m.get("kind") != "tokens":
                out.append(x)
                continue
            T = x.shape[1]
            valid = torch.arange(T).expand(x.shape[0], T) < L.view(-1, 1)
            ids = torch.where(valid, x[:, :, 0].detach().long(), torch.zeros_like(x[:, :, 0], dtype=torch.long))
            out.append(self.embed[m["name"]](ids) * valid.unsqueeze(-1))
        return out

    def forward(self, xs, lengths):
        """xs [(B, T_m, D_m)], lengths [(B,) int64] in model order -> logits (B, C)."""
        kind = self.spec["fusion"]
        xs = self.embedded(xs, lengths)
        if self.spec.get("target") == "step":           # the head at every step of the top layer: (B, T, C)
            fused_lengths = torch.stack(lengths).max(dim=0).values.clamp(min=1)
            return self.head(self.drop(self.fusion.sequence(torch.cat(xs, dim=2), fused_lengths)))
        if kind == "early":
            fused_lengths = torch.stack(lengths).max(dim=0).values.clamp(min=1)
            fused = self.fusion(torch.cat(xs, dim=2), fused_lengths)
        else:
            pooled = [e(x, L) for e, x, L in zip(self.encoders.values(), xs, lengths)]
            if kind == "late":
                fused = torch.cat(pooled, dim=1)
            elif kind == "attention":
                fused = self.fusion(pooled, torch.stack(lengths, dim=1) > 0)
            else:
                fused = self.fusion(pooled)
        return self.head(self.drop(fused))


def step_loss_fn(task, logits, targets, lengths):
    """task.target: step: the loss over the valid steps t < lengths[b] of logits (B, T, C) and targets (B, T) or
    (B, T, K), as a masked PyTorch loss: the valid steps' rows, then loss_fn (their mean)."""
    B, T = logits.shape[:2]
    valid = torch.arange(T).expand(B, T) < lengths.view(B, 1)
    if task == "regression" and targets.dim() == 2:      # [B, T]: one output per step
        targets = targets.unsqueeze(-1)
    return loss_fn(task, logits[valid], targets[valid])


def loss_fn(task, logits, targets):
    """mmtrain's losses (mean over the batch): cross-entropy, BCE with logits on column 0, MSE."""
    if task == "multiclass":
        return nn.functional.cross_entropy(logits, targets.long())
    if task == "binary":
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets)
    return nn.functional.mse_loss(logits, targets)
