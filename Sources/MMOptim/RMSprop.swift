import Foundation
import MMModel
import MMTensor

/// torch.optim.RMSprop with momentum 0 and centered false:
///     g = grad + wd·p;  sq = α·sq + (1-α)·g²;  p -= lr · g / (sqrt(sq) + eps)
public final class RMSprop: Optimizer {
  public let name = "rmsprop"
  public var lr: Double, alpha: Double, eps: Double, weightDecay: Double
  public var stepCount = 0
  let sq: Buffer
  public var state: [(name: String, buffer: Buffer)] { [("square_avg", sq)] }

  public init(parameterCount: Int, lr: Double, alpha: Double, eps: Double, weightDecay: Double) {
    self.lr = lr; self.alpha = alpha; self.eps = eps; self.weightDecay = weightDecay
    sq = Buffer(count: parameterCount)
  }

  public func step(_ arena: ParameterArena) {
    let lr = Float(self.lr), a = Float(alpha), c = Float(1 - alpha), e = Float(eps), wd = Float(weightDecay)
    let p = arena.values.pointer, g = arena.grads.pointer, s = sq.pointer
    for i in 0..<arena.trainableCount {
      let gi = g[i] + wd * p[i]
      s[i] = a * s[i] + c * gi * gi
      p[i] -= lr * gi / (s[i].squareRoot() + e)
    }
    stepCount += 1
  }
}
