import MMData
import MMDistributed
import XCTest

final class ShardingTests: XCTestCase {
  func testEveryRowExactlyOnceForAnyWorld() {
    for n in [0, 1, 7, 50, 101, 1000] {
      for world in [1, 2, 3, 4, 8, 13] {
        var seen = [Int](repeating: 0, count: n)
        var sizes: [Int] = []
        var expectedStart = 0
        for rank in 0..<world {
          let rows = Sharding.rows(rank: rank, world: world, count: n)
          XCTAssertEqual(rows.lowerBound, expectedStart, "contiguous blocks in rank order")
          expectedStart = rows.upperBound
          sizes.append(rows.count)
          for r in rows {
            seen[r] += 1
            XCTAssertEqual(
              Sharding.owner(of: r, world: world, count: n), rank, "owner of row \(r), n=\(n) world=\(world)")
          }
        }
        XCTAssertEqual(seen, [Int](repeating: 1, count: n), "n=\(n) world=\(world)")
        XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "balanced: n=\(n) world=\(world)")
      }
    }
  }

  func testValidationSplitIsSeededAndSized() {
    let a = Split.validationMask(count: 101, fraction: 0.2, seed: 3)
    XCTAssertEqual(a.filter { $0 }.count, 20)
    XCTAssertEqual(a, Split.validationMask(count: 101, fraction: 0.2, seed: 3))
    XCTAssertNotEqual(a, Split.validationMask(count: 101, fraction: 0.2, seed: 4))
    XCTAssertEqual(Split.validationMask(count: 10, fraction: 0, seed: 1).filter { $0 }.count, 0)
    XCTAssertEqual(
      Split.validationMask(count: 3, fraction: 0.01, seed: 1).filter { $0 }.count, 1,
      "a positive fraction keeps at least one row")
  }

  func testSamplerOrdersAndBatchesCoverTrainRowsOncePerEpoch() {
    let train = Array(stride(from: 0, to: 95, by: 1)).filter { $0 % 7 != 0 }
    let s = EpochSampler(trainRows: train, batchSize: 16, seed: 9)
    XCTAssertEqual(s.stepsPerEpoch, (train.count + 15) / 16)
    let o0 = s.order(epoch: 0), o1 = s.order(epoch: 1)
    XCTAssertEqual(o0.sorted(), train)
    XCTAssertNotEqual(o0, o1, "reshuffled every epoch")
    XCTAssertEqual(o0, s.order(epoch: 0), "seeded by (seed, epoch)")
    let batches = (0..<s.stepsPerEpoch).map { Array(s.batch($0, of: o0)) }
    XCTAssertEqual(batches.flatMap { $0 }, o0)
    XCTAssertEqual(batches.last!.count, train.count - 16 * (s.stepsPerEpoch - 1), "last batch keeps the remainder")
  }
}
