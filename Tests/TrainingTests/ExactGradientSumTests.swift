@testable import MMDistributed
import MMTensor
import XCTest

/// `dist.world_invariant`'s sum (ExactGradientSum): the chunks' gradients in fixed point give the same bits
/// however the chunks are grouped on ranks, a gradient that outgrows its scale is spilled to a coarser one (or the
/// step computed again, past that too), and a non-finite gradient reaches the optimiser as NaN. Ranks are
/// simulated: one sum per "rank" on a single-process communicator, their integer sums and maxima added and maxed
/// here as MPI would.
final class ExactGradientSumTests: XCTestCase {
  /// Two tensors (5 and 7 values) in two buckets (the first also holding 4 trailing control slots).
  let tensors = [0..<5, 5..<12]
  let buckets = [5..<16, 0..<5]
  let chunkCount = 13

  /// Chunk c's gradient: values of very different magnitudes, so float sums depend on their order.
  func gradient(_ c: Int, scale: Float = 1) -> [Float] {
    var rng = RNG(seed: UInt64(c + 1))
    return (0..<12).map { i in
      let u = Float(rng.next() % 2_000_001) / 1_000_000 - 1
      return scale * u * (i % 3 == 0 ? 1e3 : (i % 3 == 1 ? 1 : 1e-4))
    }
  }

  /// The step's sum with chunks dealt to `world` simulated ranks (consecutive chunks per rank), as the
  /// optimiser would see it; `exponents` carried over from the previous step (nil: a first step).
  func sum(world: Int, gradients: [[Float]], exponents: [Int64]?) -> (grads: [Float], repeats: Int, next: [Int64]) {
    let grads = Buffer(count: 16)
    let ranks = (0..<world).map { _ in
      ExactGradientSum(
        comm: SingleProcessCommunicator(), grads: grads.pointer, tensors: tensors, buckets: buckets,
        chunks: chunkCount)
    }
    if let exponents { for r in ranks { r.restore(exponents: exponents) } }
    var repeats = 0
    while true {
      for (rank, s) in ranks.enumerated() {
        s.begin(mark: rank == 0 ? 1 : 0)
        for c in 0..<gradients.count where c * world / gradients.count == rank {
          grads.zero()
          for i in 0..<12 { grads[i] = gradients[c][i] }
          for k in buckets.indices { s.add(k) }
        }
      }
      // What the all-reduces do: integer sums and maxima (with the overflow flag) into rank 0's.
      let root = ranks[0]
      for other in ranks.dropFirst() {
        for i in 0..<16 { root.accumulator[i] &+= other.accumulator[i] }
        for i in 0..<12 { root.spill[i] &+= other.spill[i] }
        for t in tensors.indices { root.largest[t] = max(root.largest[t], other.largest[t]) }
        root.overflow = root.overflow || other.overflow
      }
      let done = root.finish()
      for other in ranks.dropFirst() { other.restore(exponents: root.exponents) }
      if done {
        XCTAssertEqual(grads[12], Float(world - 1), "trailing slot 0: marked by every rank but the first (a count)")
        XCTAssertEqual(grads[13], 1)
        return ((0..<12).map { grads[$0] }, repeats, root.exponents)
      }
      repeats += 1
      XCTAssertLessThan(repeats, 2, "a repeated step uses its own maxima and must fit")
      if repeats >= 2 { return ([], repeats, []) }
    }
  }

  func testTheSumIsTheSameBitsOnAnyWorldSize() {
    let gradients = (0..<chunkCount).map { gradient($0) }
    let one = sum(world: 1, gradients: gradients, exponents: nil)
    XCTAssertEqual(one.repeats, 1, "a first step probes its scales, then is computed again")
    for world in [2, 3, 4, 8] {
      let other = sum(world: world, gradients: gradients, exponents: nil)
      XCTAssertEqual(other.grads.map(\.bitPattern), one.grads.map(\.bitPattern), "\(world) ranks")
      XCTAssertEqual(other.next, one.next)
    }
    // And close to the float64 sum (fixed point at ≥ 40 bits below each tensor's largest value).
    for i in 0..<12 {
      let exact = gradients.reduce(0.0) { $0 + Double($1[i]) }
      XCTAssertEqual(Double(one.grads[i]), exact, accuracy: abs(exact) * 1e-6 + 1e-9, "element \(i)")
    }
  }

  /// The check that the test above can fail: float sums in two groupings differ in their last bits here, and a
  /// sum over one chunk less is detected.
  func testAChangedGroupingOfFloatsOrOneChunkLessIsDetected() {
    let gradients = (0..<chunkCount).map { gradient($0) }
    var sequential = [Float](repeating: 0, count: 12), paired = sequential
    for c in 0..<chunkCount { for i in 0..<12 { sequential[i] += gradients[c][i] } }
    for half in [0..<6, 6..<chunkCount] {
      var part = [Float](repeating: 0, count: 12)
      for c in half { for i in 0..<12 { part[i] += gradients[c][i] } }
      for i in 0..<12 { paired[i] += part[i] }
    }
    XCTAssertNotEqual(sequential.map(\.bitPattern), paired.map(\.bitPattern), "float addition re-associates")
    let all = sum(world: 2, gradients: gradients, exponents: nil)
    let fewer = sum(world: 2, gradients: Array(gradients.dropLast()), exponents: nil)
    XCTAssertNotEqual(all.grads.map(\.bitPattern), fewer.grads.map(\.bitPattern))
  }

  /// The next step starts from this step's exponents. A chunk 2^10 larger (past the headroom) is summed apart at
  /// a coarser scale: no step computed again, the same bits on any world size, close to the float64 sum. One
  /// past 2^(headroom + spillBits) is computed again, to the bits of a step that knew its scales.
  func testAGradientThatOutgrowsItsScaleIsSpilledOrRepeated() {
    let first = sum(world: 2, gradients: (0..<chunkCount).map { gradient($0) }, exponents: nil)
    let calm = sum(world: 3, gradients: (0..<chunkCount).map { gradient($0 + 50) }, exponents: first.next)
    XCTAssertEqual(calm.repeats, 0, "gradients of the same size: the previous step's scales fit")
    var burst = (0..<chunkCount).map { gradient($0 + 50) }
    burst[4] = gradient(4, scale: 1024)
    let one = sum(world: 1, gradients: burst, exponents: first.next)
    XCTAssertEqual(one.repeats, 0, "spilled, not computed again")
    for world in [2, 3, 4, 8] {
      let other = sum(world: world, gradients: burst, exponents: first.next)
      XCTAssertEqual(other.grads.map(\.bitPattern), one.grads.map(\.bitPattern), "\(world) ranks")
      XCTAssertEqual(other.next, one.next)
    }
    for i in 0..<12 {
      let exact = burst.reduce(0.0) { $0 + Double($1[i]) }
      XCTAssertEqual(Double(one.grads[i]), exact, accuracy: abs(exact) * 1e-6 + 1e-9, "element \(i)")
    }
    var jump = (0..<chunkCount).map { gradient($0 + 50) }
    jump[4] = gradient(4, scale: Float(1 << (ExactGradientSum.headroom + ExactGradientSum.spillBits + 4)))
    let grown = sum(world: 3, gradients: jump, exponents: first.next)
    XCTAssertEqual(grown.repeats, 1)
    let probed = sum(world: 1, gradients: jump, exponents: nil)
    XCTAssertEqual(grown.grads.map(\.bitPattern), probed.grads.map(\.bitPattern))
  }

  /// A tensor whose gradient is zero in every chunk of a step (a modality absent from a whole batch) keeps its
  /// exponent, so the step after it, with gradients again, is not computed again.
  func testATensorWithoutGradientKeepsItsScale() {
    let first = sum(world: 2, gradients: (0..<chunkCount).map { gradient($0) }, exponents: nil)
    var silent = (0..<chunkCount).map { gradient($0 + 20) }
    for c in silent.indices { for i in tensors[0] { silent[c][i] = 0 } }
    let quiet = sum(world: 3, gradients: silent, exponents: first.next)
    XCTAssertEqual(quiet.repeats, 0)
    XCTAssertEqual(quiet.next[0], first.next[0], "tensor 0 had no gradient: its exponent stays")
    XCTAssertTrue(quiet.grads[0..<5].allSatisfy { $0 == 0 })
    let after = sum(world: 2, gradients: (0..<chunkCount).map { gradient($0 + 40) }, exponents: quiet.next)
    XCTAssertEqual(after.repeats, 0)
  }

  func testANonFiniteGradientMakesItsTensorNaN() {
    var gradients = (0..<chunkCount).map { gradient($0) }
    gradients[7][6] = .infinity
    let result = sum(world: 4, gradients: gradients, exponents: nil)
    XCTAssertTrue(result.grads[5..<12].allSatisfy(\.isNaN), "tensor 1 holds the infinity")
    XCTAssertTrue(result.grads[0..<5].allSatisfy(\.isFinite), "tensor 0 is summed as usual")
  }
}
