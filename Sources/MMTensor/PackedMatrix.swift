import MMKernels

/// A (k, n) weight matrix packed once for many products with a small left operand (MMKernels/packed_gemm.h):
/// each recurrent step's h_{t-1} (B_t, H) · W_hhᵀ and dgates_t (B_t, G) · W_hh. OpenBLAS re-packs its right
/// operand on every call; this is packed once per forward and then costs only the micro-kernel (its speed:
/// packed_gemm.c, README "Performance").
///
/// A row of the product does not depend on the other rows of A: one in-order FMA chain per element. The kernel
/// is picked at run time for the CPU (AVX-512, AVX2, SSE2: `level`); AVX-512 and AVX2 give the same bits.
public final class PackedMatrix {
  public let k: Int, n: Int
  /// The micro-kernel's instruction set: 2 AVX-512, 1 AVX2 + FMA, 0 SSE2 (packed_gemm.h).
  public let level: Int32
  let storage: UnsafeMutablePointer<Float>   // mmk_packed_count(level, k, n) floats, 64-byte aligned

  /// The best level this CPU runs.
  public static let bestLevel = mmk_best_level()

  public init(k: Int, n: Int, level: Int32 = PackedMatrix.bestLevel) {
    precondition(k >= 0 && n >= 0, "negative packed matrix shape (\(k), \(n))")
    precondition(level >= 0 && level <= PackedMatrix.bestLevel, "packed kernel level \(level): this CPU runs 0...\(PackedMatrix.bestLevel)")
    self.k = k; self.n = n; self.level = level
    let count = max(mmk_packed_count(level, Int32(k), Int32(n)), 1)
    storage = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
      .bindMemory(to: Float.self, capacity: count)
    storage.initialize(repeating: 0, count: count)
  }

  deinit { storage.deallocate() }

  /// Packs B = W (k, n) of a row-major W with row stride `ld` (`transposed: false`), or B = Wᵀ of a row-major
  /// W (n, k) (`transposed: true`).
  public func pack(_ w: UnsafePointer<Float>, ld: Int, transposed: Bool) {
    mmk_pack(level, w, transposed ? 1 : ld, transposed ? ld : 1, Int32(k), Int32(n), storage)
  }

  /// C (m, n) = A (m, k) · B, or C += A · B when `accumulate`; A and C row-major with row strides lda, ldc.
  @inline(__always)
  public func multiply(m: Int, a: UnsafePointer<Float>, lda: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
    mmk_gemm_packed(level, Int32(m), Int32(n), Int32(k), a, lda, storage, accumulate ? 1 : 0, c, ldc)
  }
}
