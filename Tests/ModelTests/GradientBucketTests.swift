import MMModel
import MMTensor
import TestSupport
import XCTest

/// The model's gradient buckets (what the trainer all-reduces while backward goes on): they tile the arena
/// and its control slots exactly, each recurrent layer has its own, and each is final when `ready` announces
/// it (a snapshot taken then equals the gradient after backward; a bucket announced early would differ).
final class GradientBucketTests: XCTestCase {
  func testBucketsTileTheArenaAndAreFinalWhenAnnounced() {
    for fusion in [FusionKind.early, .late] {
      for (bidirectional, pooling) in [(false, PoolingKind.last), (true, .attention)] {
        let spec = ZooGradientCheckTests.spec(
          fusion: fusion, pooling: pooling, cell: .lstm, bidirectional: bidirectional,
          layers: 2, task: .multiclass, outputs: 3)
        let label = "\(fusion) fusion, bidirectional \(bidirectional), \(pooling) pooling"
        let B = ZooGradientCheckTests.B, model = spec.make(maxBatch: B, trailingGradients: 32)
        model.initialize(seed: 5)
        let buckets = model.gradientBuckets
        // Tiling: sorted by start, each begins where the previous ends, from 0 to the control slots' end.
        let sorted = buckets.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        XCTAssertEqual(sorted.first?.lowerBound, 0, label)
        XCTAssertEqual(sorted.last?.upperBound, model.arena.count + model.arena.trailingCount, label)
        XCTAssertTrue(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, label)
        // The head, then per encoder its pooling and each of its 2 layers.
        XCTAssertEqual(buckets.count, 1 + spec.encoders.count * 3, label)
        var rng = RNG(seed: 9)
        let x = (0..<(spec.maxSteps * B * spec.width)).map { _ in Float(rng.normal()) }
        let batch = TestBatch(x: x, modalityLengths: ZooGradientCheckTests.lengths(spec), batch: B)
        let targets: [Float] = [0, 2, 1]
        var snapshots: [[Float]] = [], announced: [Int] = []
        model.arena.zeroGrads()
        targets.withUnsafeBufferPointer { tp in
          let logits = model.forward(batch.model)
          _ = Loss.evaluate(
            spec.task, logits: logits, targets: tp.baseAddress!, batch: B, outputs: 3, globalCount: B,
            dlogits: model.dlogits.pointer)
          model.backward { k in
            announced.append(k)
            snapshots.append(
              Array(
                UnsafeBufferPointer(start: model.arena.grads.pointer + buckets[k].lowerBound, count: buckets[k].count)))
          }
        }
        XCTAssertEqual(announced, Array(buckets.indices), label)
        for (k, snapshot) in snapshots.enumerated() {
          let final = Array(
            UnsafeBufferPointer(start: model.arena.grads.pointer + buckets[k].lowerBound, count: buckets[k].count))
          XCTAssertEqual(snapshot, final, "\(label): bucket \(k) \(buckets[k]) changed after it was announced")
          if buckets[k].count > 0 && k > 0 {
            XCTAssertTrue(final.contains { $0 != 0 }, "\(label): bucket \(k) has no gradient")
          }
        }
      }
    }
  }
}
