// glibc's malloc tuning, for Buffer.mapLargeAllocations (Sources/MMTensor/Buffer.swift): Swift cannot import
// mallopt and its M_* macros from glibc's malloc.h.
#pragma once
#include <malloc.h>

// malloc maps (and unmaps on free) every block of at least `bytes`, always.
static inline int mmk_malloc_map_from(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
