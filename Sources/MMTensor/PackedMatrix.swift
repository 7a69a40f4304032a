import MMKernels

/// A (k, n) weight matrix packed once for many products with a small left operand (MMKernels/packed_gemm.h):
/// each recurrent step's h_{t-1} (B_t, H) · W_hhᵀ and dgates_t (B_t, G) · W_hh. OpenBLAS re-packs its right
/// operand on every call; this is packed once per forward and then costs only the micro-kernel (its speed:
/// packed_gemm.c, the Performance article).
///
/// A row of the product does not depend on the other rows of A: one in-order FMA chain per element. The kernel
/// is picked at run time for the CPU (AVX-512, AVX2, SSE2: `level`); AVX-512 and AVX2 give the same bits.
public final class PackedMatrix {
  /// The shape packed last (B is (k, n)).
  public private(set) var k: Int, n: Int
  /// The micro-kernel's instruction set: 2 AVX-512, 1 AVX2 + FMA, 0 SSE2 (packed_gemm.h).
  public let level: Int32
  let capacity: Int  // floats: the largest of mmk_packed_count(level, k, n) over the shapes
  let storage: UnsafeMutablePointer<Float>  // 64-byte aligned

  /// The best level this CPU runs.
  public static let bestLevel = mmk_best_level()

  public convenience init(k: Int, n: Int, level: Int32 = PackedMatrix.bestLevel) {
    self.init(shapes: [(k, n)], level: level)
  }

  /// Storage for any of `shapes` (the first is packed by `pack(_:ld:transposed:)`), one at a time: a layer's
  /// W_hhᵀ (H, G) in forward and W_hh (G, H) in backward are never needed at once.
  public init(shapes: [(k: Int, n: Int)], level: Int32 = PackedMatrix.bestLevel) {
    precondition(!shapes.isEmpty && shapes.allSatisfy { $0.k >= 0 && $0.n >= 0 }, "packed matrix shapes \(shapes)")
    precondition(
      level >= 0 && level <= PackedMatrix.bestLevel,
      "packed kernel level \(level): this CPU runs 0...\(PackedMatrix.bestLevel)")
    (k, n) = shapes[0]
    self.level = level
    capacity = max(shapes.map { mmk_packed_count(level, Int32($0.k), Int32($0.n)) }.max()!, 1)
    storage = UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
      .bindMemory(to: Float.self, capacity: capacity)
    storage.initialize(repeating: 0, count: capacity)
  }

  deinit { storage.deallocate() }

  /// Packs B = W (k, n) of a row-major W with row stride `ld` (`transposed: false`), or B = Wᵀ of a row-major
  /// W (n, k) (`transposed: true`).
  public func pack(_ w: UnsafePointer<Float>, ld: Int, transposed: Bool) {
    mmk_pack(level, w, transposed ? 1 : ld, transposed ? ld : 1, Int32(k), Int32(n), storage)
  }

  /// As `pack(_:ld:transposed:)`, as shape (k, n) from now on (one of the shapes the storage was made for).
  public func pack(_ w: UnsafePointer<Float>, ld: Int, transposed: Bool, k: Int, n: Int) {
    precondition(
      mmk_packed_count(level, Int32(k), Int32(n)) <= capacity, "packed shape (\(k), \(n)) exceeds the storage")
    (self.k, self.n) = (k, n)
    pack(w, ld: ld, transposed: transposed)
  }

  /// C (m, n) = A (m, k) · B, or C += A · B when `accumulate`, then + `bias` (n) on every row when given
  /// (c = (c + A·B) + bias); A and C row-major with row strides lda, ldc.
  @inline(__always)
  public func multiply(
    m: Int, a: UnsafePointer<Float>, lda: Int, accumulate: Bool, bias: UnsafePointer<Float>? = nil,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    mmk_gemm_packed(level, Int32(m), Int32(n), Int32(k), a, lda, storage, accumulate ? 1 : 0, bias, c, ldc)
  }
}
