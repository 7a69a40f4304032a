import Foundation
import MMModel
import MMTensor

/// torch.optim.Adam (L2 weight decay folded into the gradient) and, with `decoupled`, torch.optim.AdamW
/// (decoupled decay applied to the weights before the Adam update):
///     Adam:   g = grad + wd·p
///     AdamW:  g = grad;  p -= lr·wd·p
///     m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
///     p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
public final class Adam: Optimizer {
  public var name: String { decoupled ? "adamw" : "adam" }
  public var lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double
  public let decoupled: Bool
  public var stepCount = 0
  let m: Buffer, v: Buffer
  public var state: [(name: String, buffer: Buffer)] { [("exp_avg", m), ("exp_avg_sq", v)] }

  public init(
    parameterCount: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double,
    decoupled: Bool = false
  ) {
    self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    self.decoupled = decoupled
    m = Buffer(count: parameterCount); v = Buffer(count: parameterCount)
  }

  public func step(_ arena: ParameterArena) {
    stepCount += 1
    let t = Double(stepCount)
    let stepSize = Float(lr / (1 - pow(beta1, t)))
    let invSqrtBc2 = Float(1 / (1 - pow(beta2, t)).squareRoot())
    // 1 − β in Double, then rounded: Float(1) − Float(0.999) is off by 1.3e-5 relative, a bias on every v.
    let b1 = Float(beta1), b2 = Float(beta2), e = Float(eps), c1 = Float(1 - beta1), c2 = Float(1 - beta2)
    let l2: Float = decoupled ? 0 : Float(weightDecay)
    let shrink: Float = decoupled ? Float(1 - lr * weightDecay) : 1  // torch: p.mul_(1 - lr·wd)
    let p = arena.values.pointer, g = arena.grads.pointer, mp = m.pointer, vp = v.pointer
    for i in 0..<arena.trainableCount {
      let gi = g[i] + l2 * p[i]
      p[i] *= shrink
      mp[i] = b1 * mp[i] + c1 * gi
      vp[i] = b2 * vp[i] + c2 * gi * gi
      p[i] -= stepSize * mp[i] / (vp[i].squareRoot() * invSqrtBc2 + e)
    }
  }
}
