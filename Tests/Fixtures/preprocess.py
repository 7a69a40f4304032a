#!/usr/bin/env python3
"""mmtrain's preprocessing in numpy, as the Preprocessing article prints it, and the reference it checks mmtrain against.

`preprocess` (between the markers) is quoted verbatim in Sources/mmtrain/Documentation.docc/Preprocessing.md; a
Swift test (DataTests/PreprocessReferenceTests) checks that the article still holds exactly this text, and that mmtrain's
own loader gives what `preprocess` wrote to preprocess_reference.json. Regenerate (needs numpy and h5py):
    python3 Tests/Fixtures/preprocess.py
It writes preprocess_input.h5 (shared /lengths, an absent modality, NaN values) and preprocess_reference.json.
"""
import json
import os

import h5py
import numpy as np

# --- begin preprocess (quoted in Preprocessing.md) ---
def preprocess(f, modalities, steps, align="interpolate", normalize="zscore", missing="error",
               train_rows=None, stats=None):
    """Model input of every sample in h5py.File f: x (N, S, D) float32, lengths (N,), (mean, std).
    steps: data.steps, one int or {modality: steps} (each modality fills its first steps; S = the most).
    Statistics come from the training rows (train_rows: indices; default all) unless given, as a
    checkpoint's (/normalization/mean, /normalization/std)."""
    n = len(f["labels"])
    train = np.zeros(n, bool)
    train[np.arange(n) if train_rows is None else train_rows] = True
    xs, means, stds, lengths = [], [], [], np.ones(n, np.int64)
    for name in modalities:
        x = f["modalities"][name][()].astype(np.float32)                       # (N, T, D)
        N, T, D = x.shape
        S = steps[name] if isinstance(steps, dict) else steps
        L = np.full(n, T)                                                      # valid steps per sample
        if "lengths" in f:  # /lengths [N] for all modalities, or /lengths/<name> [N] per modality
            L = f["lengths"][()] if hasattr(f["lengths"], "shape") else f["lengths"].get(name, L)[()]
        valid = (np.arange(T)[None, :] < L[:, None])[:, :, None]              # (N, T, 1)
        finite = np.isfinite(x) & valid
        if missing == "error" and not finite[np.broadcast_to(valid, x.shape)].all():
            raise ValueError(f"{name} has NaN/Inf in valid steps (data.missing: zero or mean)")
        if stats is None:  # over valid, finite steps of the training rows, in float64
            use = finite & train[:, None, None]
            count = use.sum((0, 1))
            mu = np.where(use, x, 0).astype(np.float64).sum((0, 1)) / np.maximum(count, 1)
            var = np.where(use, x.astype(np.float64) ** 2, 0).sum((0, 1)) / np.maximum(count, 1) - mu ** 2
            sd = np.where(count > 0, np.sqrt(np.maximum(var, 0)), 1)
            used = normalize == "zscore" or missing == "mean"               # else stored as mean 0, std 1
            mean = np.where(used, mu, 0).astype(np.float32)
            std = np.where((normalize == "zscore") & (sd > 1e-6), sd, 1).astype(np.float32)
        else:
            c = sum(m.shape[2] for m in xs)
            mean, std = stats[0][c:c + D], stats[1][c:c + D]
        x = np.where(np.isfinite(x), x, mean if missing == "mean" else np.float32(0))
        if normalize == "zscore":
            x = (x - mean) / std
        x = np.where(valid, x, np.float32(0))                                  # steps past L are zero
        out = np.zeros((n, S, D), np.float32)                                 # absent (L = 0): all zero
        for i in range(n):
            l = int(L[i])
            if l == 0:
                continue
            if align == "interpolate":  # step s sits at s (l-1)/(S-1): first and last valid steps line up
                if l == 1 or S == 1:
                    out[i] = x[i, (l - 1) // 2 if S == 1 else 0]
                else:
                    pos = np.arange(S) * (l - 1) / (S - 1)
                    lo = np.minimum(pos.astype(int), l - 2)
                    w = (pos - lo).astype(np.float32)[:, None]
                    out[i] = x[i, lo] + w * (x[i, lo + 1] - x[i, lo])
                lengths[i] = max(lengths[i], S)
            else:  # truncate keeps the first S steps; pad too, but refuses to cut
                if align == "pad" and l > S:
                    raise ValueError(f"sample {i} has {l} steps of {name}, more than {S}")
                out[i, :min(l, S)] = x[i, :min(l, S)]
                lengths[i] = max(lengths[i], min(l, S))
        xs.append(out)
        means.append(mean)
        stds.append(std)
    S = max(m.shape[1] for m in xs)
    x = np.concatenate([np.pad(m, ((0, 0), (0, S - m.shape[1]), (0, 0))) for m in xs], axis=2)
    return x, lengths, (np.concatenate(means), np.concatenate(stds))
# --- end preprocess ---


HERE = os.path.dirname(os.path.abspath(__file__))

# (file, modalities in input order, steps, align, normalize, missing, validation rows)
CASES = [
    ("h5py_contract.h5", ["text", "audio", "vision"], 6, "interpolate", "zscore", "error", [1, 4]),
    ("h5py_contract.h5", ["vision", "text"], 3, "truncate", "none", "error", [0]),
    ("h5py_contract.h5", ["audio", "text"], 5, "pad", "zscore", "error", []),
    ("h5py_contract.h5", ["text"], 1, "interpolate", "zscore", "error", [2]),
    ("preprocess_input.h5", ["b", "a"], 4, "interpolate", "zscore", "mean", [3]),
    ("preprocess_input.h5", ["a", "b"], 3, "truncate", "zscore", "zero", [0, 5]),
    ("preprocess_input.h5", ["a"], 5, "pad", "none", "mean", [1]),
    ("h5py_contract.h5", ["audio", "text"], {"audio": 8, "text": 3}, "interpolate", "zscore", "error", [5]),
    ("preprocess_input.h5", ["a", "b"], {"a": 2, "b": 4}, "truncate", "zscore", "mean", [2]),
]


def write_input(path):
    """7 samples; a [7, 4, 2] with NaNs, b [7, 3, 3]; shared /lengths with 0 (absent) and 1."""
    rng = np.random.default_rng(12)
    with h5py.File(path, "w") as f:
        a = rng.normal(2, 3, (7, 4, 2)).astype(np.float32)
        a[1, 0, 1] = np.nan
        a[4, 2, 0] = np.nan
        a[6, 3, 1] = np.inf  # past sample 6's length: never read
        f["modalities/a"] = a
        f["modalities/b"] = rng.normal(-1, 0.5, (7, 3, 3)).astype(np.float64)
        f["labels"] = np.array([0, 1, 0, 1, 1, 0, 1], np.int64)
        f["lengths"] = np.array([3, 0, 1, 2, 3, 2, 3], np.int32)


def main():
    write_input(os.path.join(HERE, "preprocess_input.h5"))
    cases = []
    for name, modalities, steps, align, normalize, missing, validation in CASES:
        with h5py.File(os.path.join(HERE, name), "r") as f:
            n = len(f["labels"])
            train = [i for i in range(n) if i not in validation]
            x, lengths, (mean, std) = preprocess(f, modalities, steps, align, normalize, missing, train)
        cases.append({
            "file": name, "modalities": modalities,
            "steps": [steps[m] if isinstance(steps, dict) else steps for m in modalities],
            "align": align, "normalize": normalize,
            "missing": missing, "validation_rows": validation,
            "x": [float(v) for v in x.ravel()], "lengths": [int(v) for v in lengths],
            "mean": [float(v) for v in mean], "std": [float(v) for v in std],
        })
    with open(os.path.join(HERE, "preprocess_reference.json"), "w") as out:
        json.dump({"generator": "Tests/Fixtures/preprocess.py", "cases": cases}, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
