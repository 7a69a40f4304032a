// The packed-weight product of packed_gemm.h: a register-blocked micro-kernel written with vector types and
// compiled three times, each with its instruction set enabled (target attributes), picked at run time.
//
// Tile: MR rows of A × NR = 2·V columns of a panel, accumulated in 2·MR vector registers over all of k.
//   level 2, AVX-512: V = 16, MR = 12 (24 of 32 zmm registers)
//   level 1, AVX2+FMA: V = 8, MR = 6 (12 of 16 ymm)
//   level 0, SSE2:     V = 4, MR = 6 (12 of 16 xmm)
// Per kk a tile loads the panel's two vectors once and broadcasts one element of each A row: 2·MR
// multiply-adds per 2 + MR loads. Its speed against OpenBLAS's sgemm (which re-packs B every call) is measured in
// the Performance article (Sources/mmtrain/Documentation.docc).
#include "packed_gemm.h"

#pragma STDC FP_CONTRACT ON  // a * b + c as one FMA where the target has it (clang's default, stated)

typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef float vf8 __attribute__((vector_size(32), aligned(4)));
typedef float vf4 __attribute__((vector_size(16), aligned(4)));

static const int width[3] = {8, 16, 32};  // NR per level

int mmk_best_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
  return 0;
}

int mmk_panel_width(int level) { return width[level]; }

long mmk_packed_count(int level, int k, int n) {
  long nr = width[level];
  return (n + nr - 1) / nr * nr * k;
}

// Packing at one panel width NR (a constant, so the copies vectorise). B's rows contiguous (column_stride 1):
// each panel row is a copy. B's columns contiguous (Wᵀ of a row-major W): blocks of 8 rows × NR columns, each
// column's 8 floats read at once, so both the reads and the writes stay within a few cache lines.
#define PACK(NR)                                                                                               \
  static void pack_##NR(const float *b, long row_stride, long column_stride, int k, int n, float *packed) {    \
    int panels = (n + NR - 1) / NR;                                                                            \
    for (int p = 0; p < panels; p++) {                                                                         \
      float *panel = packed + (long)p * k * NR;                                                                \
      int nc = n - p * NR < NR ? n - p * NR : NR;                                                              \
      if (column_stride == 1) {                                                                                \
        for (int kk = 0; kk < k; kk++) {                                                                       \
          const float *row = b + (long)kk * row_stride + (long)p * NR;                                         \
          float *out = panel + (long)kk * NR;                                                                  \
          if (nc == NR) { for (int jj = 0; jj < NR; jj++) out[jj] = row[jj]; }                                 \
          else { for (int jj = 0; jj < NR; jj++) out[jj] = jj < nc ? row[jj] : 0; }                            \
        }                                                                                                      \
      } else {                                                                                                 \
        for (int k0 = 0; k0 < k; k0 += 8) {                                                                    \
          int kb = k - k0 < 8 ? k - k0 : 8;                                                                    \
          for (int jj = 0; jj < NR; jj++) {                                                                    \
            const float *col = b + (long)(p * NR + jj) * column_stride + (long)k0 * row_stride;                \
            for (int kk = 0; kk < kb; kk++) panel[(long)(k0 + kk) * NR + jj] = jj < nc ? col[(long)kk * row_stride] : 0; \
          }                                                                                                    \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }
PACK(8) PACK(16) PACK(32)

typedef void (*pack_fn)(const float *, long, long, int, int, float *);
static const pack_fn packs[3] = {pack_8, pack_16, pack_32};  // by level, as `width`

void mmk_pack(int level, const float *b, long row_stride, long column_stride, int k, int n, float *packed) {
  packs[level](b, row_stride, column_stride, k, n, packed);
}

// One R-row tile (R <= MR) at one level: c (R, nc) (+)= a (R, k) · panel (k, NR), then + bias (nc) when given;
// nc <= NR valid columns. The kk loop is kept rolled (unrolling it made the compiler spill the accumulators).
#define TILE(L, TARGET, VT, V, R)                                                                              \
  TARGET static void tile##L##_##R(int k, const float *restrict a, long lda, const float *restrict panel,      \
                                   int accumulate, const float *restrict bias, float *restrict c, long ldc,    \
                                   int nc) {                                                                   \
    VT acc0[R], acc1[R];                                                                                       \
    for (int i = 0; i < R; i++) { acc0[i] = (VT){0}; acc1[i] = (VT){0}; }                                      \
    _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")                               \
    for (int kk = 0; kk < k; kk++) {                                                                           \
      VT b0 = *(const VT *)(panel + (long)kk * 2 * V), b1 = *(const VT *)(panel + (long)kk * 2 * V + V);       \
      for (int i = 0; i < R; i++) {                                                                            \
        float s = a[i * lda + kk];                                                                             \
        acc0[i] += s * b0;                                                                                     \
        acc1[i] += s * b1;                                                                                     \
      }                                                                                                        \
    }                                                                                                          \
    if (nc == 2 * V) {                                                                                         \
      VT bias0 = bias ? *(const VT *)bias : (VT){0}, bias1 = bias ? *(const VT *)(bias + V) : (VT){0};         \
      for (int i = 0; i < R; i++) {                                                                            \
        VT *c0 = (VT *)(c + i * ldc), *c1 = (VT *)(c + i * ldc + V);                                           \
        VT x0 = accumulate ? *c0 + acc0[i] : acc0[i], x1 = accumulate ? *c1 + acc1[i] : acc1[i];               \
        if (bias) { x0 += bias0; x1 += bias1; }                                                                \
        *c0 = x0; *c1 = x1;                                                                                    \
      }                                                                                                        \
    } else {                                                                                                   \
      for (int i = 0; i < R; i++)                                                                              \
        for (int j = 0; j < nc; j++) {                                                                         \
          float x = j < V ? acc0[i][j] : acc1[i][j - V];                                                       \
          x = accumulate ? c[i * ldc + j] + x : x;                                                             \
          c[i * ldc + j] = bias ? x + bias[j] : x;                                                             \
        }                                                                                                      \
    }                                                                                                          \
  }

#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define SSE2

TILE(2, AVX512, vf16, 16, 1) TILE(2, AVX512, vf16, 16, 2) TILE(2, AVX512, vf16, 16, 3) TILE(2, AVX512, vf16, 16, 4)
TILE(2, AVX512, vf16, 16, 5) TILE(2, AVX512, vf16, 16, 6) TILE(2, AVX512, vf16, 16, 7) TILE(2, AVX512, vf16, 16, 8)
TILE(2, AVX512, vf16, 16, 9) TILE(2, AVX512, vf16, 16, 10) TILE(2, AVX512, vf16, 16, 11) TILE(2, AVX512, vf16, 16, 12)
TILE(1, AVX2, vf8, 8, 1) TILE(1, AVX2, vf8, 8, 2) TILE(1, AVX2, vf8, 8, 3)
TILE(1, AVX2, vf8, 8, 4) TILE(1, AVX2, vf8, 8, 5) TILE(1, AVX2, vf8, 8, 6)
TILE(0, SSE2, vf4, 4, 1) TILE(0, SSE2, vf4, 4, 2) TILE(0, SSE2, vf4, 4, 3)
TILE(0, SSE2, vf4, 4, 4) TILE(0, SSE2, vf4, 4, 5) TILE(0, SSE2, vf4, 4, 6)

typedef void (*tile_fn)(int, const float *, long, const float *, int, const float *, float *, long, int);
static const tile_fn tiles[3][13] = {
  {0, tile0_1, tile0_2, tile0_3, tile0_4, tile0_5, tile0_6},
  {0, tile1_1, tile1_2, tile1_3, tile1_4, tile1_5, tile1_6},
  {0, tile2_1, tile2_2, tile2_3, tile2_4, tile2_5, tile2_6, tile2_7, tile2_8, tile2_9, tile2_10, tile2_11, tile2_12},
};
static const int rows[3] = {6, 6, 12};  // MR per level

void mmk_gemm_packed(int level, int m, int n, int k, const float *a, long lda, const float *packed, int accumulate,
                     const float *bias, float *c, long ldc) {
  if (m <= 0 || n <= 0) return;
  int nr = width[level], mr = rows[level], panels = (n + nr - 1) / nr;
  // Panel-outer: a panel (k·NR floats) stays in cache while every row tile uses it; A (m, k) is small.
  for (int p = 0; p < panels; p++) {
    int nc = n - p * nr < nr ? n - p * nr : nr;
    const float *panel = packed + (long)p * k * nr;
    for (int i = 0; i < m; i += mr) {
      int r = m - i < mr ? m - i : mr;
      tiles[level][r](k, a + (long)i * lda, lda, panel, accumulate, bias ? bias + (long)p * nr : 0,
                       c + (long)i * ldc + (long)p * nr, ldc, nc);
    }
  }
}
