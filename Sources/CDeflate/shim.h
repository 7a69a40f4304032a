// libdeflate (Debian: libdeflate-dev): whole-buffer zlib/DEFLATE decoding, about twice as fast as zlib's inflate
// on h5py's gzip chunks. MMHDF5/ChunkDecoder.swift decodes a gzip dataset's stored chunks with it (HDF5 does
// not let a program replace its built-in deflate filter: H5Zregister refuses ids below 256).
#pragma once
#include <libdeflate.h>
