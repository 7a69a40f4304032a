import Foundation
import MMModel
import MMOptim
import XCTest

/// Hand-worked traces of the controls' update rules (PyTorch 2.x semantics); the 20-step PyTorch comparison
/// is ControlsReferenceTests.
final class TrainingControlUnitTests: XCTestCase {
  func arena(_ p: [Float], _ g: [Float], shape: [Int]? = nil) -> ParameterArena {
    let a = ParameterArena([("w", shape ?? [p.count])])
    for i in p.indices { a.values[i] = p[i]; a.grads[i] = g[i] }
    return a
  }

  func testNesterov() {
    let a = arena([1], [0.5])
    let sgd = SGD(parameterCount: 1, lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: true)
    sgd.step(a)  // buf = 0.5; g = 0.5 + 0.9·0.5 = 0.95; p = 1 − 0.095
    XCTAssertEqual(a.values[0], 0.905, accuracy: 1e-7)
    sgd.step(a)  // buf = 0.45 + 0.5 = 0.95; g = 0.5 + 0.855 = 1.355; p −= 0.1355
    XCTAssertEqual(a.values[0], 0.7695, accuracy: 1e-6)
  }

  func testAdamWDecaysTheWeightsNotTheGradient() {
    let a = arena([2], [0])
    let adamw = OptimizerKind.adamw.make(
      parameterCount: 1,
      OptimizerSettings(
        lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0.5, beta1: 0.9, beta2: 0.999, eps: 1e-8, alpha: 0.99))
    XCTAssertEqual(adamw.name, "adamw")
    adamw.step(a)  // p = 2·(1 − 0.1·0.5) = 1.9; zero gradient: no Adam move
    XCTAssertEqual(a.values[0], 1.9, accuracy: 1e-6)
    let b = arena([2], [0])
    let adam = Adam(parameterCount: 1, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5)
    adam.step(b)  // L2: g = 1 → step = lr·sign(g)
    XCTAssertEqual(b.values[0], 1.9, accuracy: 1e-6)
    a.grads[0] = 0; adamw.step(a); b.grads[0] = 0; adam.step(b)
    XCTAssertEqual(a.values[0], 1.805, accuracy: 1e-6)  // decoupled: 1.9·0.95
    XCTAssertNotEqual(a.values[0], b.values[0])
  }

  func testRMSpropFirstSteps() {
    let a = arena([1], [0.5])
    let rms = RMSprop(parameterCount: 1, lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0)
    rms.step(a)  // sq = 0.01·0.25; p −= 0.01·0.5/0.05 = 0.1
    XCTAssertEqual(a.values[0], 0.9, accuracy: 1e-6)
    rms.step(a)  // sq = 0.99·0.0025 + 0.0025 = 0.004975; p −= 0.005/0.0705337
    XCTAssertEqual(Double(a.values[0]), 0.9 - 0.005 / 0.004975.squareRoot(), accuracy: 1e-6)
  }

  func testScheduleFormulas() {
    func s(_ kind: ScheduleKind, warmup: Int = 0) -> LRSchedule {
      LRSchedule(
        kind: kind, lr: 1, warmupSteps: warmup, gamma: 0.5, stepEpochs: 2, lrMin: 0.1, stepsPerEpoch: 10,
        totalSteps: 100)
    }
    XCTAssertEqual(s(.constant, warmup: 4).lr(step: 0), 0.25)
    XCTAssertEqual(s(.constant, warmup: 4).lr(step: 3), 1)
    XCTAssertEqual(s(.constant, warmup: 4).lr(step: 50), 1)
    XCTAssertEqual(s(.step).lr(step: 19), 1)  // epoch 1
    XCTAssertEqual(s(.step).lr(step: 20), 0.5)  // epoch 2
    XCTAssertEqual(s(.step).lr(step: 45), 0.25)  // epoch 4
    XCTAssertEqual(s(.exponential).lr(step: 30), 0.125)
    XCTAssertEqual(s(.cosine, warmup: 20).lr(step: 20), 1)
    XCTAssertEqual(s(.cosine, warmup: 20).lr(step: 60), 0.55, accuracy: 1e-12)  // halfway: (1 + 0.1)/2
    XCTAssertEqual(s(.cosine, warmup: 20).lr(step: 99), 0.1 + 0.9 * (1 + cos(Double.pi * 79 / 80)) / 2, accuracy: 1e-15)
  }

  func testClipAndL1() {
    let a = arena([1, -2, 0, 3], [3, 4, 0, 0], shape: [2, 2])
    XCTAssertEqual(GradientTransforms.globalNorm(a), 5)
    GradientTransforms.clip(a, maxNorm: 1, norm: 5)  // × 1/(5 + 1e-6)
    XCTAssertEqual(a.grads[0], Float(3 / (5 + 1e-6)), accuracy: 1e-7)
    GradientTransforms.clip(a, maxNorm: 10, norm: 1)  // under the limit: unchanged
    XCTAssertEqual(a.grads[1], Float(4 / (5 + 1e-6)), accuracy: 1e-7)
    let ranges = GradientTransforms.weightRanges(a)
    XCTAssertEqual(ranges, [0..<4])
    GradientTransforms.addL1(a, lambda: 0.1, ranges: ranges)
    XCTAssertEqual(a.grads[2], 0, "sign(0) = 0")
    XCTAssertEqual(a.grads[3], 0.1, accuracy: 1e-7)
    XCTAssertEqual(GradientTransforms.l1Penalty(a, lambda: 0.1, ranges: ranges), 0.6, accuracy: 1e-12)
    let bias = ParameterArena([("b", [3])])
    XCTAssertEqual(GradientTransforms.weightRanges(bias), [], "vectors (biases) are not penalised")
  }
}
