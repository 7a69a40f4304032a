#!/usr/bin/env python3
"""Writes h5py_contract.h5: a small data file in the layout mmtrain reads, written by h5py as users will.

Regenerate (from the package root; needs python3 with h5py and numpy):
    python3 Tests/Fixtures/make_h5py_fixture.py
The output is deterministic in its values; HDF5Tests/H5pyFixtureTests.swift recomputes every value from the
formulas below, so change both together. float16 values are multiples of 0.25 below 2, exactly representable.
"""
import os

import h5py
import numpy as np

N = 6  # samples
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "h5py_contract.h5")


def main():
    with h5py.File(OUT, "w") as f:
        # (N, T, C) per modality: value = flat index / 10, / 100, or * 0.25 (mod 8) for float16.
        f["modalities/text"] = (np.arange(N * 4 * 3).reshape(N, 4, 3) / 10).astype(np.float32)
        f["modalities/audio"] = (np.arange(N * 5 * 2).reshape(N, 5, 2) / 100).astype(np.float64)
        f["modalities/vision"] = ((np.arange(N * 4 * 2) % 8).reshape(N, 4, 2) * 0.25).astype(np.float16)
        labels = f.create_dataset("labels", data=(np.arange(N) % 3).astype(np.int64))
        labels.attrs["class_names"] = ["neg", "neu", "pos"]  # a list of str: variable-length strings
        f["lengths/text"] = (np.arange(N) % 4 + 1).astype(np.int32)
        f["lengths/audio"] = (np.arange(N) % 5 + 1).astype(np.int32)
        f["lengths/vision"] = (np.arange(N) % 2 + 3).astype(np.int32)
        f["groups"] = (np.arange(N) // 2).astype(np.int32)
        f.attrs["note"] = "h5py fixture for mmtrain HDF5Tests"  # a str: variable-length UTF-8
        # Fixed-length strings (numpy 'S'), which readers must accept too.
        f.attrs["fixed_names"] = np.array([b"neg", b"neu", b"pos"])
        f.attrs["fixed_note"] = np.bytes_(b"fixed")


if __name__ == "__main__":
    main()
