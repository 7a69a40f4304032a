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

# gzip_partial.h5: /x (10, 3, 4) float32 in chunks (4, 2, 3), shuffle + gzip 4, as h5py writes a dataset filled in
# part: rows 0..<4 written normally; the chunks of rows 4..<8 never written (HDF5 fills them: zeros); the chunks of
# rows 8..<12 written as stored bytes with the deflate step skipped (filter mask 0b10: shuffled, not compressed),
# which HDF5 records for a chunk an optional filter left alone. mmtrain's own chunk decoder must read all three.
x = (np.arange(10 * 3 * 4, dtype=np.float32) * 0.25 - 3).reshape(10, 3, 4)
with h5py.File(os.path.join(here, "gzip_partial.h5"), "w") as f:
    d = f.create_dataset("x", shape=(10, 3, 4), dtype="<f4", chunks=(4, 2, 3), shuffle=True, compression="gzip",
                         compression_opts=4, fillvalue=0)
    d[0:4] = x[0:4]
    for t in (0, 2):
        for c in (0, 3):
            block = np.zeros((4, 2, 3), dtype="<f4")
            part = x[8:10, t:t + 2, c:c + 3]
            block[:part.shape[0], :part.shape[1], :part.shape[2]] = part
            shuffled = block.view(np.uint8).reshape(-1, 4).T.copy().tobytes()
            d.id.write_direct_chunk((8, t, c), shuffled, filter_mask=0b10)

# userblock.h5: an mmtrain data file behind a 512-byte user block (h5py's userblock_size), so every HDF5 address is
# 512 bytes short of its file offset. /modalities/a (29, 6, 5) in chunks of 4 whole rows, /modalities/b (29, 9, 3)
# contiguous, both uncompressed float32: rows data.mmap reads in place, at the offsets it must get right.
rng = np.random.default_rng(5)
with h5py.File(os.path.join(here, "userblock.h5"), "w", userblock_size=512) as f:
    f.create_dataset("modalities/a", data=rng.normal(size=(29, 6, 5)).astype("<f4"), chunks=(4, 6, 5))
    f.create_dataset("modalities/b", data=rng.normal(size=(29, 9, 3)).astype("<f4"))
    f.create_dataset("lengths/a", data=np.arange(29, dtype=np.int64) % 7)
    f.create_dataset("lengths/b", data=9 - np.arange(29, dtype=np.int64) % 4)
    f.create_dataset("labels", data=np.arange(29, dtype=np.int64) % 3)
