import Foundation
import MMModel
import MMTensor

/// An optimiser steps the whole parameter arena at once from its (already all-reduced, L1-augmented and
/// clipped) gradient buffer. Its state is a few named buffers of the arena's size plus a step count, all
/// saved in checkpoints, so a resumed run continues bit-for-bit. `lr` is set by the schedule before every
/// step (LRSchedule); weight decay is the optimiser's own, as in torch.optim.
public protocol Optimizer: AnyObject {
  var name: String { get }
  var lr: Double { get set }
  var stepCount: Int { get set }
  /// Named state buffers, each `arena.trainableCount` long (e.g. "momentum_buffer", or "exp_avg" and "exp_avg_sq").
  var state: [(name: String, buffer: Buffer)] { get }
  func step(_ arena: ParameterArena)
}

/// `train.optimizer`: which update rule the run uses.
public enum OptimizerKind: String, CaseIterable, Sendable { case sgd, adam, adamw, rmsprop }

/// Everything an update rule may read from `train.*`; each optimiser takes the fields it documents.
public struct OptimizerSettings: Sendable {
  public var lr: Double, momentum: Double, nesterov: Bool, weightDecay: Double
  public var beta1: Double, beta2: Double, eps: Double, alpha: Double
  public init(
    lr: Double, momentum: Double, nesterov: Bool, weightDecay: Double, beta1: Double, beta2: Double,
    eps: Double, alpha: Double
  ) {
    self.lr = lr; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.alpha = alpha
  }
}

extension OptimizerKind {
  /// The optimiser of this kind over `parameterCount` parameters, with zeroed state.
  public func make(parameterCount n: Int, _ s: OptimizerSettings) -> Optimizer {
    switch self {
    case .sgd:
      return SGD(parameterCount: n, lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay, nesterov: s.nesterov)
    case .adam:
      return Adam(parameterCount: n, lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay)
    case .adamw:
      return Adam(
        parameterCount: n, lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay,
        decoupled: true)
    case .rmsprop: return RMSprop(parameterCount: n, lr: s.lr, alpha: s.alpha, eps: s.eps, weightDecay: s.weightDecay)
    }
  }
}
