// cblas.h from libopenblas-dev (found through pkg-config `openblas`), plus OpenBLAS's own controls.
// Linking `openblas` directly, not the `blas` alternative, so openblas_set_num_threads is always there.
#pragma once
#include <cblas.h>

static inline CBLAS_ORDER mm_row_major(void) { return CblasRowMajor; }
static inline CBLAS_TRANSPOSE mm_no_trans(void) { return CblasNoTrans; }
static inline CBLAS_TRANSPOSE mm_trans(void) { return CblasTrans; }
