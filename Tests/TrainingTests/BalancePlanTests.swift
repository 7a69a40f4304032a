import MMData
@testable import MMTraining
import MMTensor
import XCTest

/// The batch balancer's plan (BatchBalance.swift), computed by every rank alone, must agree across ranks:
/// what r sends to q is what q expects from r, every rank ends with ⌊B/W⌋ or ⌈B/W⌉ rows, every row of the
/// batch is processed exactly once, and no more rows move than the surplus forces.
final class BalancePlanTests: XCTestCase {
  func testPlansAgreeAcrossRanksAndEvenTheBatch() {
    var rng = RNG(seed: 7, stream: 0)
    for trial in 0..<400 {
      let world = 1 + Int(rng.next() % 7), n = world + Int(rng.next() % 300)
      let batch = Array(rng.permutation(n).prefix(1 + Int(rng.next() % UInt64(min(n, 80)))))
      let plans = (0..<world).map { BalancePlan(world: world, rank: $0, samples: n) }
      for p in plans { batch.withUnsafeBufferPointer { p.compute($0) } }
      let shards = (0..<world).map { Sharding.rows(rank: $0, world: world, count: n) }
      let B = batch.count, context = "trial \(trial): world \(world), N \(n), batch \(B)"
      var processed: [Int] = []
      var moved = 0, surplus = 0
      for (r, p) in plans.enumerated() {
        let own = batch.filter { shards[r].contains($0) }
        for q in 0..<world {
          XCTAssertEqual(p.counts[q], batch.filter { shards[q].contains($0) }.count, "\(context): rank \(r)'s count of rank \(q)")
          XCTAssertEqual(p.targets[q], plans[0].targets[q], "\(context): ranks disagree on rank \(q)'s target")
          XCTAssertEqual(p.sendCounts[q], plans[q].receiveCounts[r], "\(context): \(r) -> \(q)")
        }
        XCTAssertTrue([B / world, (B + world - 1) / world].contains(p.targets[r]), "\(context): rank \(r) target \(p.targets[r])")
        // The rule BatchBalancer.take follows: keep the first `target` own rows (batch order), send the rest.
        let sent = (0..<world).reduce(0) { $0 + Int(p.sendCounts[$1]) }
        XCTAssertEqual(sent, max(0, own.count - p.targets[r]), "\(context): rank \(r) sends its surplus")
        XCTAssertEqual(own.count - sent + p.receiveTotal, p.targets[r], "\(context): rank \(r) ends with its target")
        processed += own.prefix(own.count - sent)
        moved += p.receiveTotal
        surplus += max(0, own.count - p.targets[r])
        // The extra rows go to the ranks owning the most.
        for q in 0..<world where p.counts[q] > p.counts[r] { XCTAssertGreaterThanOrEqual(p.targets[q], p.targets[r], context) }
      }
      // Sent rows: each sender's surplus, which its receivers process; together with the kept ones, the batch.
      for (r, p) in plans.enumerated() {
        let own = batch.filter { shards[r].contains($0) }
        processed += own.suffix(max(0, own.count - p.targets[r]))
      }
      XCTAssertEqual(processed.sorted(), batch.sorted(), "\(context): every row once")
      XCTAssertEqual(moved, surplus, "\(context): only the surplus moves")
      XCTAssertEqual(plans[0].moves, moved > 0, context)
    }
  }
}
