import MMCore
import MMModel
import MMTensor
import TestSupport
import XCTest

/// Central finite differences of the whole model (LSTM stack + head + loss) against backward, for
/// entries of every parameter tensor. Float32 forward, eps = 1e-2: tolerance 2e-3 absolute + 2% relative.
final class GradientCheckTests: XCTestCase {
  func gradientCheck(kind: TaskKind, outputs C: Int, layers: Int) {
    let T = 5, B = 3, D = 4, H = 4
    let model = ModelSpec.earlyLSTM(input: D, hidden: H, layers: layers, outputs: C, steps: T, task: kind).make(
      maxBatch: B)
    model.initialize(seed: 11)
    var rng = RNG(seed: 5)
    for i in 0..<model.arena.count { model.arena.values[i] *= 2 }  // larger weights: exercise saturation a little
    let x = (0..<(T * B * D)).map { _ in Float(rng.normal()) }
    let lengths: [Int32] = [5, 2, 4]
    let targets: [Float] =
      kind == .regression ? (0..<(B * C)).map { _ in Float(rng.normal()) } : (kind == .binary ? [1, 0, 1] : [0, 2, 1])

    func loss(withGradient: Bool) -> Double {
      let batch = TestBatch(x: x, modalityLengths: lengths, batch: B)
      return targets.withUnsafeBufferPointer { tp in
        let logits = model.forward(batch.model)
        let r = Loss.evaluate(
          kind, logits: logits, targets: tp.baseAddress!, batch: B, outputs: C, globalCount: B,
          dlogits: withGradient ? model.dlogits.pointer : nil)
        if withGradient { model.backward() }
        return r.lossSum / Double(B)
      }
    }
    model.arena.zeroGrads()
    _ = loss(withGradient: true)
    let eps: Float = 1e-2
    for t in model.arena.tensors {
      let picks = Set((0..<6).map { _ in Int(rng.next() % UInt64(t.count)) })
      for i in picks {
        let p = t.offset + i
        let saved = model.arena.values[p]
        model.arena.values[p] = saved + eps
        let up = loss(withGradient: false)
        model.arena.values[p] = saved - eps
        let down = loss(withGradient: false)
        model.arena.values[p] = saved
        let numeric = (up - down) / Double(2 * eps)
        let analytic = Double(model.arena.grads[p])
        XCTAssertTrue(
          isClose(analytic, numeric, rtol: 2e-2, atol: 2e-3),
          "\(kind) \(t.name)[\(i)]: backward \(analytic), finite difference \(numeric)")
      }
    }
  }

  func testMulticlassTwoLayers() { gradientCheck(kind: .multiclass, outputs: 3, layers: 2) }
  func testBinary() { gradientCheck(kind: .binary, outputs: 1, layers: 1) }
  func testRegressionThreeLayers() { gradientCheck(kind: .regression, outputs: 2, layers: 3) }
}
