import MMTensor
import TestSupport
import XCTest

/// PackedMatrix (the recurrent steps' product, MMKernels) against a double-precision loop, at every kernel level
/// this CPU runs (SSE2, AVX2, AVX-512): both packings, both accumulate modes, row counts around the tile heights
/// (6, 12), column counts around the panel widths (8, 16, 32), padded strides, with and without a bias row; one
/// storage packed as two shapes in turn. And its promises: a row's result
/// does not depend on the rows around it, and the AVX2 and AVX-512 kernels give the same bits.
final class PackedMatrixTests: XCTestCase {
  /// C (m, n) (+)= A (m, k) · B (+ bias (n)) with B = W (k, n) or Wᵀ (W (n, k)); row strides lda, ldw, ldc.
  func naive(
    _ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ lda: Int, _ w: [Float], _ ldw: Int, transposed: Bool,
    accumulate: Bool, bias: [Float]? = nil, _ c: [Float], _ ldc: Int
  ) -> [Float] {
    var out = c
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k { s += Double(a[i * lda + p]) * Double(transposed ? w[j * ldw + p] : w[p * ldw + j]) }
        out[i * ldc + j] = Float(s + (accumulate ? Double(c[i * ldc + j]) : 0) + Double(bias?[j] ?? 0))
      }
    }
    return out
  }

  let levels = Array(Int32(0)...PackedMatrix.bestLevel)

  func testMatchesNaiveLoop() {
    var rng = RNG(seed: 7)
    for level in levels {
      for (m, n, k) in [
        (1, 1, 1), (5, 7, 3), (6, 16, 64), (12, 32, 129), (13, 33, 40), (32, 100, 17), (33, 512, 8), (7, 9, 0),
      ] {
        for transposed in [false, true] {
          for accumulate in [false, true] {
            for withBias in [false, true] {
              let lda = k + 3, ldw = (transposed ? k : n) + 2, ldc = n + 5
              let a = (0..<(m * lda)).map { _ in Float(rng.normal()) }
              let w = (0..<((transposed ? n : k) * ldw)).map { _ in Float(rng.normal()) }
              var c = (0..<(m * ldc)).map { _ in Float(rng.normal()) }
              let bias = withBias ? (0..<n).map { _ in Float(rng.normal()) } : nil
              let expected = naive(
                m, n, k, a, lda, w, ldw, transposed: transposed, accumulate: accumulate, bias: bias, c, ldc)
              // Storage for this shape and another (a layer's W_hhᵀ and W_hh), packed as the other first.
              let packed = PackedMatrix(shapes: [(n + 40, k + 1), (k, n)], level: level)
              let other = [Float](repeating: 1, count: (n + 40) * (k + 1))
              other.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ld: k + 1, transposed: false) }
              w.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ld: ldw, transposed: transposed, k: k, n: n) }
              a.withUnsafeBufferPointer { ap in
                c.withUnsafeMutableBufferPointer { cp in
                  if let bias {
                    bias.withUnsafeBufferPointer {
                      packed.multiply(
                        m: m, a: ap.baseAddress!, lda: lda, accumulate: accumulate, bias: $0.baseAddress!,
                        c: cp.baseAddress!, ldc: ldc)
                    }
                  } else {
                    packed.multiply(
                      m: m, a: ap.baseAddress!, lda: lda, accumulate: accumulate, c: cp.baseAddress!, ldc: ldc)
                  }
                }
              }
              let what =
                "level \(level) m\(m) n\(n) k\(k) transposed \(transposed) accumulate \(accumulate) bias \(withBias)"
              XCTAssertLessThan(maxRelativeDifference(c, expected), 1e-5, what)
              // The padding columns of C (n ..< ldc) are never written.
              for i in 0..<m { for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], expected[i * ldc + j], what) } }
            }
          }
        }
      }
    }
  }

  /// Each row of the product is the same bits whether it is computed alone or inside any batch: what makes a
  /// recurrent step's result independent of the batch split (so of the world size).
  func testRowsDoNotDependOnTheBatch() {
    for level in levels {
      let whole = product(level: level, rows: 0..<32)
      for rows in [0..<1, 5..<6, 31..<32, 3..<10, 7..<20, 13..<32] {
        XCTAssertEqual(
          product(level: level, rows: rows), Array(whole[(rows.lowerBound * n)..<(rows.upperBound * n)]),
          "level \(level) rows \(rows)")
      }
    }
  }

  /// The AVX2 and AVX-512 kernels (both fused multiply-adds, in the same order) agree to the bit, so a run's
  /// results do not depend on which of the two a node has.
  func testAVX2AndAVX512GiveTheSameBits() throws {
    try XCTSkipIf(PackedMatrix.bestLevel < 2, "this CPU has no AVX-512")
    XCTAssertEqual(product(level: 1, rows: 0..<32), product(level: 2, rows: 0..<32))
  }

  let n = 80, k = 96
  lazy var a: [Float] = {
    var rng = RNG(seed: 11); return (0..<(32 * k)).map { _ in Float(rng.normal()) }
  }()
  lazy var w: [Float] = {
    var rng = RNG(seed: 12); return (0..<(n * k)).map { _ in Float(rng.normal()) }
  }()

  /// rows of A · Wᵀ (a (32, k), w (n, k)) at a level.
  func product(level: Int32, rows: Range<Int>) -> [Float] {
    let packed = PackedMatrix(k: k, n: n, level: level)
    w.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ld: k, transposed: true) }
    var c = [Float](repeating: 0, count: rows.count * n)
    a.withUnsafeBufferPointer { ap in
      c.withUnsafeMutableBufferPointer {
        packed.multiply(
          m: rows.count, a: ap.baseAddress! + rows.lowerBound * k, lda: k, accumulate: false, c: $0.baseAddress!, ldc: n
        )
      }
    }
    return c
  }
  /// `beginReuse` (dist.world_invariant's chunks): within a generation a second pack of the same weights is skipped,
  /// each shape kept apart (forward's Wᵀ and backward's W alternate); a new generation or `endReuse` packs again.
  func testReuseWithinAGenerationPacksEachShapeOnce() {
    let k = 3, n = 5
    var w = (0..<(k * n)).map { Float($0 + 1) }
    let a: [Float] = [1, 2, 3, 4, 5]  // one row of (1, k) for W (k, n); one row of (1, n) for Wᵀ (n, k)
    let packed = PackedMatrix(shapes: [(k, n), (n, k)])
    func products() -> (plain: [Float], transposed: [Float]) {
      var c1 = [Float](repeating: 0, count: n), c2 = [Float](repeating: 0, count: k)
      w.withUnsafeBufferPointer { wp in
        packed.pack(wp.baseAddress!, ld: n, transposed: false, k: k, n: n)
        packed.multiply(m: 1, a: a, lda: k, accumulate: false, c: &c1, ldc: n)
        packed.pack(wp.baseAddress!, ld: n, transposed: true, k: n, n: k)
        packed.multiply(m: 1, a: a, lda: n, accumulate: false, c: &c2, ldc: k)
      }
      return (c1, c2)
    }
    let before = products()
    PackedMatrix.beginReuse()
    defer { PackedMatrix.endReuse() }
    XCTAssertEqual(products().plain, before.plain)
    w[0] = 100  // the caller's promise broken on purpose: the kept packings are used as they were
    XCTAssertEqual(products().plain, before.plain, "packed once in this generation")
    XCTAssertEqual(products().transposed, before.transposed)
    PackedMatrix.beginReuse()
    let changed = products()
    XCTAssertNotEqual(changed.plain, before.plain, "a new generation packs again")
    PackedMatrix.endReuse()
    XCTAssertEqual(products().plain, changed.plain, "without reuse every pack packs")
    XCTAssertNil(PackedMatrix.reuseGeneration)
  }
}
