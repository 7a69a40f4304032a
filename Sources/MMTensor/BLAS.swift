import COpenBLAS

/// The one door to OpenBLAS. Every matrix product in mmtrain goes through `BLAS.gemm`, except the recurrent
/// steps' products with the packed W_hh (PackedMatrix: OpenBLAS has no pre-packed operand).
///
/// All matrices are row-major. `gemm` computes C = alpha * op(A) * op(B) + beta * C with
/// op(A) (m, k), op(B) (k, n), C (m, n); `lda`, `ldb`, `ldc` are the row strides of the stored matrices.
public enum BLAS {
  /// OpenBLAS threads per process. mmtrain runs one rank per core, so the default is 1.
  public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

  /// Name of the kernel OpenBLAS picked for this CPU (e.g. "Haswell", "SkylakeX").
  public static var coreName: String { String(cString: openblas_get_corename()) }

  @inline(__always)
  public static func gemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      mm_row_major(), transA ? mm_trans() : mm_no_trans(), transB ? mm_trans() : mm_no_trans(),
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}
