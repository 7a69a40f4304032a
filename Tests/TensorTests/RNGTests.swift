import MMTensor
import XCTest

final class RNGTests: XCTestCase {
  func testSameSeedSameStreamAndStateRoundTrip() {
    var a = RNG(seed: 42), b = RNG(seed: 42)
    XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in b.next() })
    var c = RNG(state: a.stateArray)
    XCTAssertEqual(a.next(), c.next())
    var d = RNG(seed: 42, stream: 1)
    XCTAssertNotEqual(RNG(seed: 42).stateArray, d.stateArray)
    _ = d.next()
  }

  func testPermutationIsAPermutation() {
    var r = RNG(seed: 3)
    let p = r.permutation(1000)
    XCTAssertEqual(Set(p).count, 1000)
    XCTAssertNotEqual(p, Array(0..<1000))
  }
}
