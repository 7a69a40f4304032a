import Foundation
import MMTensor
import XCTest

/// The vectorised kernels against libm over the range the gates see, tails included.
final class ActivationTests: XCTestCase {
  func testSigmoidAndTanhMatchLibm() {
    for n in [1, 7, 8, 9, 1001] {
      let xs =
        (0..<n).map { Float(-30 + 60 * Double($0) / Double(max(n - 1, 1))) } + [0, 1e-6, -1e-6, 88, -88, 200, -200]
      var s = xs, t = xs
      s.withUnsafeMutableBufferPointer { Activations.sigmoid($0.baseAddress!, $0.count) }
      t.withUnsafeMutableBufferPointer { Activations.tanh($0.baseAddress!, $0.count) }
      for (k, x) in xs.enumerated() {
        XCTAssertEqual(s[k], Float(1 / (1 + Foundation.exp(-Double(x)))), accuracy: 3e-7, "sigmoid(\(x))")
        XCTAssertEqual(t[k], Float(Foundation.tanh(Double(x))), accuracy: 4e-7, "tanh(\(x))")
      }
    }
    var bad: [Float] = [.nan, .infinity, -.infinity]
    bad.withUnsafeMutableBufferPointer { Activations.sigmoid($0.baseAddress!, $0.count) }
    XCTAssertTrue(bad[0].isNaN, "NaN propagates (so divergence is detected), never traps")
    XCTAssertEqual(bad[1], 1)
    XCTAssertEqual(bad[2], 0, accuracy: 1e-37)
  }
}
