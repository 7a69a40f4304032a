// Products with a weight matrix packed once and used for many small products: each recurrent step's
// h_{t-1} (B_t, H) · W_hhᵀ (H, G) and dgates_t (B_t, G) · W_hh (G, H). OpenBLAS re-packs its B operand on
// every call (4 MB per step for W_hh at H = 512) and has no pre-packed operand; here B is packed once per
// forward (weights change only between steps of the optimiser), so a step's product is the micro-kernel alone.
//
// Layout: B (k, n) is cut into panels of mmk_panel_width() columns (the last zero-padded); panel p holds, for
// kk = 0 ..< k, the row B[kk][p·NR ..< p·NR + NR] contiguously.
//
// Numerics: every C element is one fused multiply-add chain over kk = 0 ..< k in order, from zero, then added
// to C (accumulate) or stored. So a row's result does not depend on the other rows of A (the batch around it,
// hence not on the world size). Builds without FMA (a portable build) round each multiply, as the CPU must.
#ifndef MM_PACKED_GEMM_H
#define MM_PACKED_GEMM_H

/// Columns per panel: 32 with AVX-512, 16 with AVX, 8 otherwise.
int mmk_panel_width(void);

/// Floats the packed copy of a (k, n) matrix takes.
long mmk_packed_count(int k, int n);

/// Packs B (k, n), element (kk, j) at b[kk·row_stride + j·column_stride], into `packed`
/// (mmk_packed_count(k, n) floats). column_stride = k, row_stride = 1 packs Wᵀ of a row-major W (n, k).
void mmk_pack(const float *b, long row_stride, long column_stride, int k, int n, float *packed);

/// C (m, n) = A (m, k) · B, or C += A · B when `accumulate`; A and C row-major with row strides lda, ldc,
/// B packed by mmk_pack.
void mmk_gemm_packed(int m, int n, int k, const float *a, long lda, const float *packed, int accumulate, float *c,
                     long ldc);

#endif
