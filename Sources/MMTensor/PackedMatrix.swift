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
  let shared: UnsafeMutablePointer<Float>  // 64-byte aligned: every shape's packing, one at a time
  /// The storage the last `pack` wrote: `shared`, or while `reuseGeneration` is set, the one of its shape.
  private(set) var storage: UnsafeMutablePointer<Float>
  let shapes: [(k: Int, n: Int)]
  /// While `reuseGeneration` is set: one storage per shape (made on first use), and what each holds.
  private var kept: [UnsafeMutablePointer<Float>?]
  private var keptPacking: [Packing?]
  struct Packing: Equatable {
    let source: UnsafePointer<Float>, ld: Int, transposed: Bool, generation: Int
  }

  /// Set (`beginReuse`) by a caller whose weights stay the same over several forward and backward passes (the
  /// chunks of one `dist.world_invariant` step): a `pack` of the same matrix and shape in the same generation
  /// as an earlier one is then skipped, each shape kept in a storage of its own. nil (the default, `endReuse`):
  /// every `pack` packs. The caller must end it before the weights change.
  nonisolated(unsafe) public private(set) static var reuseGeneration: Int? = nil
  nonisolated(unsafe) private static var generations = 0

  /// From now until `endReuse`, the weights packed do not change: each is packed once per shape.
  public static func beginReuse() {
    generations += 1
    reuseGeneration = generations
  }

  public static func endReuse() { reuseGeneration = nil }

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
    self.shapes = shapes
    capacity = max(shapes.map { mmk_packed_count(level, Int32($0.k), Int32($0.n)) }.max()!, 1)
    shared = PackedMatrix.allocate(capacity)
    storage = shared
    kept = Array(repeating: nil, count: shapes.count)
    keptPacking = Array(repeating: nil, count: shapes.count)
  }

  private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
      .bindMemory(to: Float.self, capacity: count)
    p.initialize(repeating: 0, count: count)
    return p
  }

  deinit {
    shared.deallocate()
    for p in kept { p?.deallocate() }
  }

  /// Packs B = W (k, n) of a row-major W with row stride `ld` (`transposed: false`), or B = Wᵀ of a row-major
  /// W (n, k) (`transposed: true`).
  public func pack(_ w: UnsafePointer<Float>, ld: Int, transposed: Bool) {
    var slot = -1
    // The shape's storage (a loop, not firstIndex(where:): nothing allocates, even unoptimised).
    for i in 0..<shapes.count where shapes[i].k == k && shapes[i].n == n { slot = i }
    guard let generation = PackedMatrix.reuseGeneration, slot >= 0 else {
      storage = shared
      return mmk_pack(level, w, transposed ? 1 : ld, transposed ? ld : 1, Int32(k), Int32(n), storage)
    }
    if kept[slot] == nil { kept[slot] = PackedMatrix.allocate(capacity) }  // once per shape
    storage = kept[slot]!
    let packing = Packing(source: w, ld: ld, transposed: transposed, generation: generation)
    if keptPacking[slot] == packing { return }  // packed already, and the weights have not changed since
    keptPacking[slot] = packing
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
