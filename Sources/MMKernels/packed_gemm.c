// The packed-weight product of packed_gemm.h: a register-blocked micro-kernel written with vector types, so
// the compiler emits the target's widest FMAs (release builds: -march of the build, Package.swift).
//
// Tile: MR rows of A × NR = 2·V columns of a panel, accumulated in 2·MR vector registers over all of k
// (AVX-512: 12 × 32, 24 of 32 zmm registers; AVX/SSE: 6 × 16 or 6 × 8, 12 of 16). Per kk the kernel loads
// the panel's two vectors once and broadcasts one element of each A row: 2·MR FMAs per 2 + MR loads.
#include "packed_gemm.h"

#pragma STDC FP_CONTRACT ON  // a * b + c as one FMA where the target has it (clang's default, stated)

#if defined(__AVX512F__)
#define V 16
#define MR 12
#elif defined(__AVX__)
#define V 8
#define MR 6
#else
#define V 4
#define MR 6
#endif
#define NR (2 * V)

typedef float vf __attribute__((vector_size(V * sizeof(float)), aligned(sizeof(float))));

int mmk_panel_width(void) { return NR; }

long mmk_packed_count(int k, int n) { return (long)((n + NR - 1) / NR) * NR * k; }

void mmk_pack(const float *b, long row_stride, long column_stride, int k, int n, float *packed) {
  int panels = (n + NR - 1) / NR;
  for (int p = 0; p < panels; p++) {
    float *panel = packed + (long)p * k * NR;
    int nc = n - p * NR < NR ? n - p * NR : NR;
    if (column_stride == 1) {  // B's rows are contiguous: copy each panel row
      for (int kk = 0; kk < k; kk++) {
        const float *row = b + (long)kk * row_stride + p * NR;
        for (int jj = 0; jj < NR; jj++) panel[(long)kk * NR + jj] = jj < nc ? row[jj] : 0;
      }
    } else {  // B's columns are contiguous (Wᵀ of a row-major W): read each column once
      for (int jj = 0; jj < NR; jj++) {
        const float *col = b + (long)(p * NR + jj) * column_stride;
        for (int kk = 0; kk < k; kk++) panel[(long)kk * NR + jj] = jj < nc ? col[(long)kk * row_stride] : 0;
      }
    }
  }
}

// One R-row tile of C (R <= MR): c (R, nc) (+)= a (R, k) · panel (k, NR), nc <= NR valid columns.
// The kk loop is kept rolled (unrolling it made the compiler spill the accumulators).
#define TILE(R)                                                                                              \
  static void tile_##R(int k, const float *restrict a, long lda, const float *restrict panel, int accumulate, \
                       float *restrict c, long ldc, int nc) {                                                \
    vf acc0[R], acc1[R];                                                                                     \
    for (int i = 0; i < R; i++) { acc0[i] = (vf){0}; acc1[i] = (vf){0}; }                                    \
    _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")                             \
    for (int kk = 0; kk < k; kk++) {                                                                         \
      vf b0 = *(const vf *)(panel + (long)kk * NR), b1 = *(const vf *)(panel + (long)kk * NR + V);           \
      for (int i = 0; i < R; i++) {                                                                          \
        float s = a[i * lda + kk];                                                                           \
        acc0[i] += s * b0;                                                                                   \
        acc1[i] += s * b1;                                                                                   \
      }                                                                                                      \
    }                                                                                                        \
    if (nc == NR) {                                                                                          \
      for (int i = 0; i < R; i++) {                                                                          \
        vf *c0 = (vf *)(c + i * ldc), *c1 = (vf *)(c + i * ldc + V);                                         \
        if (accumulate) { *c0 += acc0[i]; *c1 += acc1[i]; } else { *c0 = acc0[i]; *c1 = acc1[i]; }          \
      }                                                                                                      \
    } else {                                                                                                 \
      for (int i = 0; i < R; i++)                                                                            \
        for (int j = 0; j < nc; j++) {                                                                       \
          float x = j < V ? acc0[i][j] : acc1[i][j - V];                                                     \
          c[i * ldc + j] = accumulate ? c[i * ldc + j] + x : x;                                              \
        }                                                                                                    \
    }                                                                                                        \
  }

TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6)
#if MR > 6
TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12)
#endif

typedef void (*tile_fn)(int, const float *, long, const float *, int, float *, long, int);
static const tile_fn tiles[MR + 1] = {
  0, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6,
#if MR > 6
  tile_7, tile_8, tile_9, tile_10, tile_11, tile_12,
#endif
};

void mmk_gemm_packed(int m, int n, int k, const float *a, long lda, const float *packed, int accumulate, float *c,
                     long ldc) {
  if (m <= 0 || n <= 0) return;
  int panels = (n + NR - 1) / NR;
  // Panel-outer: a panel (k·NR floats) stays in cache while every row tile uses it; A (m, k) is small.
  for (int p = 0; p < panels; p++) {
    int nc = n - p * NR < NR ? n - p * NR : NR;
    const float *panel = packed + (long)p * k * NR;
    for (int i = 0; i < m; i += MR) {
      int r = m - i < MR ? m - i : MR;
      tiles[r](k, a + (long)i * lda, lda, panel, accumulate, c + (long)i * ldc + (long)p * NR, ldc, nc);
    }
  }
}
