import MMKernels

/// A (k, n) weight matrix packed once for many products with a small left operand (MMKernels/packed_gemm.h):
/// each recurrent step's h_{t-1} (B_t, H) · W_hhᵀ and dgates_t (B_t, G) · W_hh. OpenBLAS re-packs its right
/// operand on every call; this is packed once per forward and then costs only the micro-kernel (measured here,
/// one core, AVX-512 build: (32, 2048, 512) 130 -> 205 GFLOP/s, (32, 512, 128) 125 -> 205, against OpenBLAS's
/// 208 for 1024³).
///
/// A row of the product does not depend on the other rows of A: one in-order FMA chain per element.
public final class PackedMatrix {
  public let k: Int, n: Int
  let storage: UnsafeMutablePointer<Float>   // mmk_packed_count(k, n) floats, 64-byte aligned

  public init(k: Int, n: Int) {
    precondition(k >= 0 && n >= 0, "negative packed matrix shape (\(k), \(n))")
    self.k = k; self.n = n
    let count = max(mmk_packed_count(Int32(k), Int32(n)), 1)
    storage = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
      .bindMemory(to: Float.self, capacity: count)
    storage.initialize(repeating: 0, count: count)
  }

  deinit { storage.deallocate() }

  /// Packs B = W (k, n) of a row-major W with row stride `ld` (`transposed: false`), or B = Wᵀ of a row-major
  /// W (n, k) (`transposed: true`).
  public func pack(_ w: UnsafePointer<Float>, ld: Int, transposed: Bool) {
    mmk_pack(w, transposed ? 1 : ld, transposed ? ld : 1, Int32(k), Int32(n), storage)
  }

  /// C (m, n) = A (m, k) · B, or C += A · B when `accumulate`; A and C row-major with row strides lda, ldc.
  @inline(__always)
  public func multiply(m: Int, a: UnsafePointer<Float>, lda: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
    mmk_gemm_packed(Int32(m), Int32(n), Int32(k), a, lda, storage, accumulate ? 1 : 0, c, ldc)
  }
}
