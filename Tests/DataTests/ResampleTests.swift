import MMConfig
import MMData
import XCTest

final class ResampleTests: XCTestCase {
  /// src (T, D) with L valid steps → S steps, fused stride D (one modality alone).
  func align(_ mode: Align, _ src: [Float], L: Int, D: Int, S: Int) -> ([Float], Int) {
    var dst = [Float](repeating: -1, count: S * D)
    let n = src.withUnsafeBufferPointer { sp in
      dst.withUnsafeMutableBufferPointer { dp in
        Resample.align(
          mode, src: sp.baseAddress!, validSteps: L, features: D, dst: dp.baseAddress!, steps: S, dstStride: D)
      }
    }
    return (dst, n)
  }

  func testInterpolateStretchesValidStepsOnly() {
    // Steps 0, 10, 20 valid; step 3 (999) is padding and must not leak in.
    let (out, n) = align(.interpolate, [0, 10, 20, 999], L: 3, D: 1, S: 5)
    XCTAssertEqual(n, 5)
    XCTAssertEqual(out, [0, 5, 10, 15, 20])
  }

  func testInterpolateShrinksAndKeepsEnds() {
    let src: [Float] = (0..<9).flatMap { [Float($0), Float(-$0)] }  // T 9, D 2
    let (out, _) = align(.interpolate, src, L: 9, D: 2, S: 3)
    XCTAssertEqual(out, [0, 0, 4, -4, 8, -8])
  }

  func testSingleStepIsRepeatedAndAbsentIsZero() {
    XCTAssertEqual(align(.interpolate, [7, 8], L: 1, D: 1, S: 3).0, [7, 7, 7])
    let (zeros, n) = align(.interpolate, [7, 8], L: 0, D: 1, S: 3)
    XCTAssertEqual(zeros, [0, 0, 0]); XCTAssertEqual(n, 0)
  }

  func testTruncateAndPad() {
    let (t, n) = align(.truncate, [1, 2, 3, 4, 5], L: 5, D: 1, S: 3)
    XCTAssertEqual(t, [1, 2, 3]); XCTAssertEqual(n, 3)
    let (p, m) = align(.pad, [1, 2, 3, 4, 5], L: 2, D: 1, S: 4)
    XCTAssertEqual(p, [1, 2, 0, 0]); XCTAssertEqual(m, 2)
  }
}
