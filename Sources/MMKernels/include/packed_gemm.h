// Products with a weight matrix packed once and used for many small products: each recurrent step's
// h_{t-1} (B_t, H) · W_hhᵀ (H, G) and dgates_t (B_t, G) · W_hh (G, H). OpenBLAS re-packs its B operand on
// every call (4 MB per step for W_hh at H = 512) and has no pre-packed operand; here B is packed once per
// forward (weights change only between steps of the optimiser), so a step's product is the micro-kernel alone.
//
// The micro-kernel is compiled for three instruction sets and picked at run time for the CPU (as OpenBLAS
// picks its kernels), whatever the build's target: `level` 2 = AVX-512, 1 = AVX2 with FMA, 0 = SSE2.
//
// Layout: B (k, n) is cut into panels of mmk_panel_width(level) columns (the last zero-padded); panel p holds,
// for kk = 0 ..< k, the row B[kk][p·NR ..< p·NR + NR] contiguously.
//
// Numerics: every C element is one multiply-add chain over kk = 0 ..< k in order, from zero, then added to C
// (accumulate) or stored. So a row's result does not depend on the other rows of A (the batch around it, hence
// not on the world size), and levels 1 and 2 (fused multiply-adds) give the same bits; level 0 rounds each
// product (SSE2 has no FMA).
#ifndef MM_PACKED_GEMM_H
#define MM_PACKED_GEMM_H

/// The best level this CPU runs: 2 (AVX-512F), 1 (AVX2 and FMA) or 0.
int mmk_best_level(void);

/// Columns per panel at a level: 32, 16, 8.
int mmk_panel_width(int level);

/// Floats the packed copy of a (k, n) matrix takes at a level.
long mmk_packed_count(int level, int k, int n);

/// Packs B (k, n), element (kk, j) at b[kk·row_stride + j·column_stride], into `packed`
/// (mmk_packed_count(level, k, n) floats). column_stride = k, row_stride = 1 packs Wᵀ of a row-major W (n, k).
void mmk_pack(int level, const float *b, long row_stride, long column_stride, int k, int n, float *packed);

/// C (m, n) = A (m, k) · B, or C += A · B when `accumulate`; then, when `bias` (n) is not NULL, bias is added
/// to every row: c = (c + A·B) + bias. A and C row-major with row strides lda, ldc; B packed by mmk_pack at the
/// same level (a level this CPU runs: at most mmk_best_level()).
void mmk_gemm_packed(int level, int m, int n, int k, const float *a, long lda, const float *packed, int accumulate,
                     const float *bias, float *c, long ldc);

#endif
