import MMModel
import MMTensor
import TestSupport
import XCTest

/// A sample's logits must not depend on which samples share its batch, nor on the batch size: evaluation
/// chunks, training slices and world sizes all cut batches differently. Every fusion × pooling, with a
/// length-0 modality and per-modality steps.
final class BatchIndependenceTests: XCTestCase {
  func spec(_ fusion: FusionKind, _ pooling: PoolingKind) -> ModelSpec {
    let steps = fusion == .early ? [4, 4, 4] : [4, 6, 3]
    let inputs = [("a", 3, 5), ("b", 2, 4), ("c", 4, 3)].enumerated().map { i, m in
      ModelSpec.Input(
        name: m.0, column: [0, 3, 5][i], features: m.1, steps: steps[i], hidden: fusion == .early ? 5 : m.2)
    }
    return ModelSpec(
      inputs: inputs, fusion: fusion, layers: 2, pooling: pooling, fusionSize: 3, task: .multiclass, outputs: 3)
  }

  func testLogitsDoNotDependOnBatchMates() {
    for fusion in FusionKind.allCases {
      for pooling in PoolingKind.allCases {
        let s = spec(fusion, pooling), B = 5, S = s.maxSteps, D = s.width, M = s.inputs.count
        let model = s.make(maxBatch: B)
        model.initialize(seed: 3)
        var rng = RNG(seed: 9)
        let x = (0..<(S * B * D)).map { _ in Float(rng.normal()) }
        var lengths = [Int32](repeating: 0, count: M * B)
        for m in 0..<M { for b in 0..<B { lengths[m * B + b] = Int32(1 + (b + m) % s.inputs[m].steps) } }
        lengths[1 * B + 2] = 0  // sample 2 lacks modality b
        let full = TestBatch(x: x, modalityLengths: lengths, batch: B)
        let all = Array(UnsafeBufferPointer(start: model.forward(full.model), count: B * 3))
        for b in 0..<B {
          var xb = [Float](repeating: 0, count: S * D)
          for t in 0..<S { for d in 0..<D { xb[t * D + d] = x[(t * B + b) * D + d] } }
          let one = TestBatch(
            x: xb, modalityLengths: (0..<M).map { lengths[$0 * B + b] }, batch: 1,
            fusedLengths: [full.fused[b]])
          let logits = Array(UnsafeBufferPointer(start: model.forward(one.model), count: 3))
          XCTAssertLessThan(
            maxRelativeDifference(logits, Array(all[(b * 3)..<(b * 3 + 3)])), 1e-5, "\(fusion) \(pooling) sample \(b)")
        }
      }
    }
  }
}
