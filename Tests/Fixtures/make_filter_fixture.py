#!/usr/bin/env python3
"""Writes lzf_modality.h5: a valid mmtrain data file whose one modality is compressed with LZF, a filter h5py
ships and libhdf5 does not (so mmtrain must name it and the fix). Run: python3 make_filter_fixture.py"""
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
with h5py.File(os.path.join(here, "lzf_modality.h5"), "w") as f:
    x = np.repeat(np.arange(6, dtype=np.float32), 2 * 3 * 8).reshape(6, 2, 24)  # compressible: LZF keeps the chunks it shrinks
    f.create_dataset("modalities/text", data=x, chunks=(2, 2, 24), compression="lzf")
    f.create_dataset("modalities/audio", data=x[:, :, :2] * 0.5)
    f.create_dataset("labels", data=np.array([0, 1, 0, 1, 0, 1], dtype=np.int64))
