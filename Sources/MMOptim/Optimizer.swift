import Foundation
import MMModel
import MMTensor

/// An optimiser steps the whole parameter arena at once from its (already all-reduced) gradient buffer.
/// Its state is a few named buffers of the arena's size plus a step count, all saved in checkpoints,
/// so a resumed run continues bit-for-bit.
public protocol Optimizer: AnyObject {
  var name: String { get }
  var stepCount: Int { get set }
  /// Named state buffers, each `arena.count` long (e.g. "momentum", or "exp_avg" and "exp_avg_sq").
  var state: [(name: String, buffer: Buffer)] { get }
  func step(_ arena: ParameterArena)
}

/// torch.optim.SGD with momentum (dampening 0, no Nesterov) and L2 weight decay:
///     g = grad + wd·p;  buf = μ·buf + g;  p -= lr·buf
public final class SGD: Optimizer {
  public let name = "sgd"
  public var lr: Float, momentum: Float, weightDecay: Float
  public var stepCount = 0
  let buf: Buffer
  public var state: [(name: String, buffer: Buffer)] { [("momentum_buffer", buf)] }

  public init(parameterCount: Int, lr: Double, momentum: Double, weightDecay: Double) {
    self.lr = Float(lr); self.momentum = Float(momentum); self.weightDecay = Float(weightDecay)
    buf = Buffer(count: parameterCount)
  }

  public func step(_ arena: ParameterArena) {
    let p = arena.values.pointer, g = arena.grads.pointer, m = buf.pointer
    let lr = self.lr, mu = momentum, wd = weightDecay
    for i in 0..<arena.count {
      let gi = g[i] + wd * p[i]
      if mu != 0 {
        m[i] = mu * m[i] + gi
        p[i] -= lr * m[i]
      } else {
        p[i] -= lr * gi
      }
    }
    stepCount += 1
  }
}

/// torch.optim.Adam with L2 weight decay (not AdamW):
///     g = grad + wd·p;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
///     p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
public final class Adam: Optimizer {
  public let name = "adam"
  public var lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double
  public var stepCount = 0
  let m: Buffer, v: Buffer
  public var state: [(name: String, buffer: Buffer)] { [("exp_avg", m), ("exp_avg_sq", v)] }

  public init(parameterCount: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double) {
    self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    m = Buffer(count: parameterCount); v = Buffer(count: parameterCount)
  }

  public func step(_ arena: ParameterArena) {
    stepCount += 1
    let t = Double(stepCount)
    let stepSize = Float(lr / (1 - pow(beta1, t)))
    let invSqrtBc2 = Float(1 / (1 - pow(beta2, t)).squareRoot())
    let b1 = Float(beta1), b2 = Float(beta2), e = Float(eps), wd = Float(weightDecay)
    let p = arena.values.pointer, g = arena.grads.pointer, mp = m.pointer, vp = v.pointer
    for i in 0..<arena.count {
      let gi = g[i] + wd * p[i]
      mp[i] = b1 * mp[i] + (1 - b1) * gi
      vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
      p[i] -= stepSize * mp[i] / (vp[i].squareRoot() * invSqrtBc2 + e)
    }
  }
}

/// `train.optimizer`: which update rule the run uses.
public enum OptimizerKind: String, CaseIterable, Sendable { case sgd, adam }
