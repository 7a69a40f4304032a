import Foundation

/// `train.schedule`: how the learning rate moves over the run after the warm-up.
public enum ScheduleKind: String, CaseIterable, Sendable { case constant, step, exponential, cosine }

/// The learning rate of every optimiser step, as a pure function of the step: nothing to save in a
/// checkpoint beyond the step count, and every rank computes the same value.
///
/// Step s (0-based, counted over the whole run), epoch e = ⌊s / stepsPerEpoch⌋, S = total steps, W = warm-up:
///     s < W:        lr·(s+1)/W
///     constant:     lr
///     step:         lr·γ^⌊e/k⌋
///     exponential:  lr·γ^e
///     cosine:       lr_min + (lr − lr_min)·(1 + cos(π·(s − W)/(S − W)))/2
/// PyTorch users get the same numbers from a LambdaLR stepped once per optimiser step.
public struct LRSchedule: Equatable, Sendable {
  public var kind: ScheduleKind
  public var lr: Double
  public var warmupSteps: Int
  public var gamma: Double
  public var stepEpochs: Int
  public var lrMin: Double
  public var stepsPerEpoch: Int
  public var totalSteps: Int

  public init(
    kind: ScheduleKind, lr: Double, warmupSteps: Int = 0, gamma: Double = 0.1, stepEpochs: Int = 10,
    lrMin: Double = 0, stepsPerEpoch: Int, totalSteps: Int
  ) {
    self.kind = kind; self.lr = lr; self.warmupSteps = warmupSteps; self.gamma = gamma; self.stepEpochs = stepEpochs
    self.lrMin = lrMin; self.stepsPerEpoch = max(stepsPerEpoch, 1); self.totalSteps = totalSteps
  }

  /// The learning rate of optimiser step `s`.
  public func lr(step s: Int) -> Double {
    if s < warmupSteps { return lr * Double(s + 1) / Double(warmupSteps) }
    let epoch = s / stepsPerEpoch
    switch kind {
    case .constant: return lr
    case .step: return lr * pow(gamma, Double(epoch / max(stepEpochs, 1)))
    case .exponential: return lr * pow(gamma, Double(epoch))
    case .cosine:
      let span = Double(max(totalSteps - warmupSteps, 1))
      let progress = min(Double(s - warmupSteps) / span, 1)
      return lrMin + (lr - lrMin) * (1 + cos(Double.pi * progress)) / 2
    }
  }
}
