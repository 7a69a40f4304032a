import MMData
@testable import MMDistributed
import MMTensor
import XCTest

/// The batch balancer's plan (BatchBalance.swift), computed by every rank alone, must agree across ranks:
/// what r sends to q is what q expects from r, every row of the batch is processed exactly once, no rank both
/// sends and receives, the ranks' work ends within two rows of each other, and at equal lengths every rank
/// processes ⌊B/W⌋ or ⌈B/W⌉ rows with only the surplus moving.
final class BalancePlanTests: XCTestCase {
  func testPlansAgreeAcrossRanksAndEvenTheWork() {
    var rng = RNG(seed: 7, stream: 0)
    for trial in 0..<600 {
      let world = 1 + Int(rng.next() % 7), n = world + Int(rng.next() % 300)
      let equal = trial % 2 == 0  // every row the same length (no padding), or lengths 1...50
      let work = (0..<n).map { _ in equal ? Int32(50) : Int32(1 + rng.next() % 50) }
      let batch = Array(rng.permutation(n).prefix(1 + Int(rng.next() % UInt64(min(n, 80)))))
      let plans = (0..<world).map { BalancePlan(world: world, rank: $0, samples: n, work: work, batchSize: 80) }
      for p in plans { batch.withUnsafeBufferPointer { p.compute($0) } }
      let shards = (0..<world).map { Sharding.rows(rank: $0, world: world, count: n) }
      let B = batch.count,
        context = "trial \(trial): world \(world), N \(n), batch \(B), \(equal ? "equal" : "mixed") lengths"
      var processed = [Int](repeating: 0, count: world), load = [Int](repeating: 0, count: world)
      for (r, p) in plans.enumerated() {
        for k in 0..<B {
          XCTAssertEqual(p.destination[k], plans[0].destination[k], "\(context): ranks disagree on row \(k)")
        }
        for q in 0..<world {
          XCTAssertEqual(p.routes.sendCounts[q], plans[q].routes.receiveCounts[r], "\(context): \(r) -> \(q)")
        }
        let own = (0..<B).filter { shards[r].contains(batch[$0]) }
        let sent = (0..<world).reduce(0) { $0 + Int(p.routes.sendCounts[$1]) }
        XCTAssertEqual(
          sent, own.filter { p.destination[$0] != r }.count, "\(context): rank \(r) sends the rows it gives away")
        XCTAssertFalse(sent > 0 && p.routes.receiveTotal > 0, "\(context): rank \(r) both sends and receives")
        XCTAssertEqual(p.routes.moves, plans[0].routes.moves, context)
      }
      for k in 0..<B {
        let q = plans[0].destination[k]
        XCTAssertTrue((0..<world).contains(q), "\(context): row \(k) has no rank")
        processed[q] += 1; load[q] += Int(work[batch[k]])
      }
      XCTAssertEqual(processed.reduce(0, +), B, "\(context): every row once")
      let longest = batch.map { Int(work[$0]) }.max()!
      XCTAssertLessThanOrEqual(load.max()! - load.min()!, 2 * longest, "\(context): work \(load)")
      if equal {
        XCTAssertTrue(
          processed.allSatisfy { [B / world, (B + world - 1) / world].contains($0) }, "\(context): rows \(processed)")
        let owned = (0..<world).map { r in batch.filter { shards[r].contains($0) }.count }
        let surplus = (0..<world).reduce(0) { $0 + max(0, owned[$1] - processed[$1]) }
        XCTAssertEqual(
          (0..<world).reduce(0) { $0 + plans[$1].routes.receiveTotal }, surplus, "\(context): only the surplus moves")
      }
    }
  }
}
