import Foundation
import MMTensor
import TestSupport
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

/// The generator pinned to values an independent implementation of the published xoshiro256** and SplitMix64
/// (Tests/Fixtures/make_rng_reference.py) computes: a silent change to seeding, stepping, uniform, normal or
/// the permutation would change every initialisation, split and fold.
final class RNGReferenceTests: XCTestCase {
  struct Case: Decodable {
    var seed: String, stream: UInt64, state: [String], next: [String]
    var uniform: [Double], normal: [Double], permutation: [Int]
  }
  struct Fixture: Decodable { var cases: [Case]; var state1234: [String] }

  func testMatchesTheReferenceImplementation() throws {
    let url = packageRoot().appendingPathComponent("Tests/Fixtures/rng_reference.json")
    let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    XCTAssertEqual(fixture.cases.count, 4)
    for c in fixture.cases {
      var r = RNG(seed: UInt64(c.seed)!, stream: c.stream)
      XCTAssertEqual(r.stateArray, c.state.map { UInt64($0)! }, "SplitMix64 seeding, seed \(c.seed) stream \(c.stream)")
      XCTAssertEqual((0..<5).map { _ in r.next() }, c.next.map { UInt64($0)! })
      XCTAssertEqual((0..<3).map { _ in r.uniform() }, c.uniform)
      for (got, want) in zip((0..<3).map { _ in r.normal() }, c.normal) { XCTAssertEqual(got, want, accuracy: 1e-15) }
      XCTAssertEqual(r.permutation(10), c.permutation)
    }
    var plain = RNG(state: [1, 2, 3, 4])
    XCTAssertEqual(
      (0..<4).map { _ in plain.next() }, fixture.state1234.map { UInt64($0)! }, "xoshiro256**'s own test vector")
  }
}
