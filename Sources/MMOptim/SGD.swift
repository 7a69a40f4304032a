import Foundation
import MMModel
import MMTensor

/// torch.optim.SGD with momentum (dampening 0), optional Nesterov, and L2 weight decay:
///     g = grad + wd·p;  buf = μ·buf + g;  g = nesterov ? g + μ·buf : buf;  p -= lr·g
/// (buf starts at 0, so the first step's buf is g, as torch's clone of the first gradient.)
public final class SGD: Optimizer {
  public let name = "sgd"
  public var lr: Double
  public var momentum: Float, weightDecay: Float, nesterov: Bool
  public var stepCount = 0
  let buf: Buffer
  public var state: [(name: String, buffer: Buffer)] { [("momentum_buffer", buf)] }

  public init(parameterCount: Int, lr: Double, momentum: Double, weightDecay: Double, nesterov: Bool = false) {
    self.lr = lr; self.momentum = Float(momentum); self.weightDecay = Float(weightDecay); self.nesterov = nesterov
    buf = Buffer(count: parameterCount)
  }

  public func step(_ arena: ParameterArena) {
    let p = arena.values.pointer, g = arena.grads.pointer, m = buf.pointer
    let lr = Float(self.lr), mu = momentum, wd = weightDecay
    for i in 0..<arena.trainableCount {
      var gi = g[i] + wd * p[i]
      if mu != 0 {
        m[i] = mu * m[i] + gi
        gi = nesterov ? gi + mu * m[i] : m[i]
      }
      p[i] -= lr * gi
    }
    stepCount += 1
  }
}
