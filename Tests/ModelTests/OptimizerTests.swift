import MMModel
import MMOptim
import XCTest

/// One-parameter traces of torch.optim.SGD(momentum) and torch.optim.Adam, worked out by hand from
/// their documented update rules (PyTorch 2.x).
final class OptimizerTests: XCTestCase {
  func arena(_ p: Float, _ g: Float) -> ParameterArena {
    let a = ParameterArena([("w", [1])])
    a.values[0] = p; a.grads[0] = g
    return a
  }

  func testSGDMomentum() {
    let a = arena(1, 0.5)
    let sgd = SGD(parameterCount: 1, lr: 0.1, momentum: 0.9, weightDecay: 0)
    sgd.step(a)  // buf = 0.5; p = 1 - 0.05
    XCTAssertEqual(a.values[0], 0.95, accuracy: 1e-7)
    sgd.step(a)  // buf = 0.45 + 0.5 = 0.95; p = 0.95 - 0.095
    XCTAssertEqual(a.values[0], 0.855, accuracy: 1e-6)
  }

  func testAdamFirstStepsAndWeightDecay() {
    let a = arena(1, 0.5)
    let adam = Adam(parameterCount: 1, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    adam.step(a)  // m̂ = g, v̂ = g²: step = lr · sign(g)
    XCTAssertEqual(a.values[0], 0.99, accuracy: 1e-6)
    a.grads[0] = -0.5
    adam.step(a)  // m = 0.045-0.05 = -0.005 → m̂ = -0.005/0.19; v̂ = 0.25 → p += 0.01·0.02632
    XCTAssertEqual(a.values[0], 0.99 + 0.01 * (0.005 / 0.19) / 0.5, accuracy: 1e-6)
    let b = arena(2, 0)
    let wd = Adam(parameterCount: 1, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
    wd.step(b)  // g = 0 + 0.1·2 → step = lr
    XCTAssertEqual(b.values[0], 1.99, accuracy: 1e-6)
  }
}
