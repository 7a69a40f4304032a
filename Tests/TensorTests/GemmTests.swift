import MMTensor
import TestSupport
import XCTest

/// BLAS.gemm against a naive triple loop, for every transpose combination, alpha/beta and padded strides.
final class GemmTests: XCTestCase {
  func naive(
    _ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
    _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int
  ) -> [Float] {
    var out = c
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k {
          let av = tA ? a[p * lda + i] : a[i * lda + p]
          let bv = tB ? b[j * ldb + p] : b[p * ldb + j]
          s += Double(av) * Double(bv)
        }
        out[i * ldc + j] = alpha * Float(s) + beta * c[i * ldc + j]
      }
    }
    return out
  }

  func testMatchesNaiveLoop() {
    var rng = RNG(seed: 1)
    for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 48, 20)] {
      for tA in [false, true] {
        for tB in [false, true] {
          for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (2, -0.5)] {
            let lda = (tA ? m : k) + 2, ldb = (tB ? k : n) + 1, ldc = n + 3
            let a = (0..<((tA ? k : m) * lda)).map { _ in Float(rng.normal()) }
            let b = (0..<((tB ? n : k) * ldb)).map { _ in Float(rng.normal()) }
            var c = (0..<(m * ldc)).map { _ in Float(rng.normal()) }
            let expected = naive(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            a.withUnsafeBufferPointer { ap in
              b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                  BLAS.gemm(
                    transA: tA, transB: tB, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                    b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                }
              }
            }
            XCTAssertLessThan(
              maxRelativeDifference(c, expected), 1e-5, "m\(m) n\(n) k\(k) tA\(tA) tB\(tB) alpha\(alpha) beta\(beta)")
          }
        }
      }
    }
  }

  func testCoreNameIsReported() {
    XCTAssertFalse(BLAS.coreName.isEmpty)
  }
}
