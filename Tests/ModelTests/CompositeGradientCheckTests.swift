import MMModel
import MMTensor
import TestSupport
import XCTest

/// Central finite differences of the composite model (encoders, pooling, fusion, head, loss) against
/// backward, for entries of every parameter tensor; a length-0 modality in the batch. Float32, eps 1e-2:
/// tolerance 2e-3 absolute + 2% relative, as GradientCheckTests.
final class CompositeGradientCheckTests: XCTestCase {
  func check(_ fusion: FusionKind, _ pooling: PoolingKind, dropout: Double = 0, modalityDropout: Double = 0, file: StaticString = #filePath, line: UInt = #line) {
    let steps = fusion == .early ? [4, 4] : [4, 5]
    let inputs = [ModelSpec.Input(name: "a", column: 0, features: 3, steps: steps[0], hidden: 4),
                  ModelSpec.Input(name: "b", column: 3, features: 2, steps: steps[1], hidden: fusion == .early ? 4 : 3)]
    let spec = ModelSpec(inputs: inputs, fusion: fusion, layers: 2, pooling: pooling, fusionSize: 3, headHidden: 4,
                         dropout: dropout, task: .multiclass, outputs: 3)
    let B = 4, S = spec.maxSteps, D = spec.width
    let model = spec.make(maxBatch: B)
    model.initialize(seed: 7)
    for i in 0..<model.arena.count { model.arena.values[i] *= 2 }
    var rng = RNG(seed: 5)
    let x = (0..<(S * B * D)).map { _ in Float(rng.normal()) }
    let lengths: [Int32] = [4, 1, 3, 2, /* b: */ Int32(steps[1]), 0, 2, 3]
    let targets: [Float] = [0, 2, 1, 2]
    let batch = TestBatch(x: x, modalityLengths: lengths, batch: B)
    let ctx = dropout > 0 || modalityDropout > 0 ? TrainingContext(seed: 1, epoch: 2, modalityDropout: modalityDropout) : nil
    func loss(withGradient: Bool) -> Double {
      let logits = model.forward(batch.model, training: ctx)
      let r = targets.withUnsafeBufferPointer {
        Loss.evaluate(.multiclass, logits: logits, targets: $0.baseAddress!, batch: B, outputs: 3, globalCount: B,
                      dlogits: withGradient ? model.dlogits.pointer : nil)
      }
      if withGradient { model.backward() }
      return r.lossSum / Double(B)
    }
    model.arena.zeroGrads()
    _ = loss(withGradient: true)
    let eps: Float = 3e-3
    for t in model.arena.tensors {
      for i in Set((0..<5).map { _ in Int(rng.next() % UInt64(t.count)) }) {
        let p = t.offset + i, saved = model.arena.values[p]
        model.arena.values[p] = saved + eps
        let up = loss(withGradient: false)
        model.arena.values[p] = saved - eps
        let down = loss(withGradient: false)
        model.arena.values[p] = saved
        let numeric = (up - down) / Double(2 * eps), analytic = Double(model.arena.grads[p])
        XCTAssertTrue(isClose(analytic, numeric, rtol: 2e-2, atol: 2e-3),
                      "\(fusion) \(pooling) \(t.name)[\(i)]: backward \(analytic), finite difference \(numeric)", file: file, line: line)
      }
    }
  }

  func testEveryFusionAndPooling() {
    for fusion in FusionKind.allCases { for pooling in PoolingKind.allCases { check(fusion, pooling) } }
  }

  func testDropoutAndModalityDropout() {
    for fusion in FusionKind.allCases { check(fusion, .mean, dropout: 0.3, modalityDropout: 0.4) }
  }
}
