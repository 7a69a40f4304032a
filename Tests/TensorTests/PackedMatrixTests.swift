import MMTensor
import TestSupport
import XCTest

/// PackedMatrix (the recurrent steps' product, MMKernels) against a double-precision loop: both packings, both
/// accumulate modes, row counts around the micro-kernel's tile heights (6, 12), column counts around its panel
/// widths (8, 16, 32), padded strides; and its promise that a row's result does not depend on the rows around it.
final class PackedMatrixTests: XCTestCase {
  /// C (m, n) (+)= A (m, k) · B with B = W (k, n) or Wᵀ (W (n, k)); row strides lda, ldw, ldc.
  func naive(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ lda: Int, _ w: [Float], _ ldw: Int, transposed: Bool,
             accumulate: Bool, _ c: [Float], _ ldc: Int) -> [Float] {
    var out = c
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k { s += Double(a[i * lda + p]) * Double(transposed ? w[j * ldw + p] : w[p * ldw + j]) }
        out[i * ldc + j] = Float(s) + (accumulate ? c[i * ldc + j] : 0)
      }
    }
    return out
  }

  func testMatchesNaiveLoop() {
    var rng = RNG(seed: 7)
    for (m, n, k) in [(1, 1, 1), (5, 7, 3), (6, 16, 64), (12, 32, 129), (13, 33, 40), (32, 100, 17), (33, 512, 8), (7, 9, 0)] {
      for transposed in [false, true] {
        for accumulate in [false, true] {
          let lda = k + 3, ldw = (transposed ? k : n) + 2, ldc = n + 5
          let a = (0..<(m * lda)).map { _ in Float(rng.normal()) }
          let w = (0..<((transposed ? n : k) * ldw)).map { _ in Float(rng.normal()) }
          var c = (0..<(m * ldc)).map { _ in Float(rng.normal()) }
          let expected = naive(m, n, k, a, lda, w, ldw, transposed: transposed, accumulate: accumulate, c, ldc)
          let packed = PackedMatrix(k: k, n: n)
          w.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ld: ldw, transposed: transposed) }
          a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
              packed.multiply(m: m, a: ap.baseAddress!, lda: lda, accumulate: accumulate, c: cp.baseAddress!, ldc: ldc)
            }
          }
          let what = "m\(m) n\(n) k\(k) transposed \(transposed) accumulate \(accumulate)"
          XCTAssertLessThan(maxRelativeDifference(c, expected), 1e-5, what)
          // The padding columns of C (n ..< ldc) are never written.
          for i in 0..<m { for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], expected[i * ldc + j], what) } }
        }
      }
    }
  }

  /// Each row of the product is the same bits whether it is computed alone or inside any batch: what makes a
  /// recurrent step's result independent of the batch split (so of the world size).
  func testRowsDoNotDependOnTheBatch() {
    var rng = RNG(seed: 11)
    let m = 32, n = 80, k = 96
    let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
    let w = (0..<(n * k)).map { _ in Float(rng.normal()) }
    let packed = PackedMatrix(k: k, n: n)
    w.withUnsafeBufferPointer { packed.pack($0.baseAddress!, ld: k, transposed: true) }
    func product(rows: Range<Int>) -> [Float] {
      var c = [Float](repeating: 0, count: rows.count * n)
      a.withUnsafeBufferPointer { ap in
        c.withUnsafeMutableBufferPointer {
          packed.multiply(m: rows.count, a: ap.baseAddress! + rows.lowerBound * k, lda: k, accumulate: false, c: $0.baseAddress!, ldc: n)
        }
      }
      return c
    }
    let whole = product(rows: 0..<m)
    for rows in [0..<1, 5..<6, 31..<32, 3..<10, 7..<20, 13..<32] {
      XCTAssertEqual(product(rows: rows), Array(whole[(rows.lowerBound * n)..<(rows.upperBound * n)]), "rows \(rows)")
    }
  }
}
