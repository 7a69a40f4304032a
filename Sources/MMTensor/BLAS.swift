import COpenBLAS

/// The one door to OpenBLAS. Every matrix product in mmtrain goes through `BLAS.gemm`.
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

  /// A recurrent step's product: C (m, n) = op(A) (m, k) · op(B) (k, n) + beta·C with a small m (the batch).
  /// When at most 4 column blocks bring each block under m·n·k = 2^19, it is done in those blocks: OpenBLAS
  /// then takes its small-matrix kernels, which do not re-pack the weight matrix on every step (measured here,
  /// single core: (32, 512, 128) 53 -> 64 GFLOP/s, (32, 128, 512) 68 -> 82 GFLOP/s; larger products, whose
  /// blocks would be too many, go whole).
  @inline(__always)
  public static func stepGemm(
    transB: Bool = false, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    let blocks = (m * n * k + smallProduct - 1) / smallProduct
    guard blocks > 1, blocks <= 4, n % blocks == 0 else {
      gemm(transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
      return
    }
    let nb = n / blocks
    for j in 0..<blocks {
      gemm(transB: transB, m: m, n: nb, k: k, a: a, lda: lda, b: b + (transB ? j * nb * ldb : j * nb), ldb: ldb,
           beta: beta, c: c + j * nb, ldc: ldc)
    }
  }

  static let smallProduct = 1 << 19

  /// out (columns, rows) = aᵀ for a (rows, columns), both row-major (OpenBLAS's cblas_somatcopy).
  public static func transpose(_ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    if rows == 0 || columns == 0 { return }
    cblas_somatcopy(mm_row_major(), mm_trans(), Int32(rows), Int32(columns), 1, a, Int32(columns), out, Int32(rows))
  }
}
