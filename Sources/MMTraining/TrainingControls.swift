import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMModel
import MMOptim

/// What a step does between the all-reduce and the next forward, in PyTorch's order:
///     grad += λ·sign(W)          the L1 term of the loss, added once (not once per rank)
///     n = ‖grad‖₂; clip to c      torch.nn.utils.clip_grad_norm_ after DDP's all-reduce
///     optimiser.lr = schedule(s)  the scheduler's value for this step
///     optimiser step              with its own weight decay
/// Every rank holds the same all-reduced gradient, so every rank computes the same norm and step.
struct StepControls {
  let schedule: LRSchedule
  let l1: Double
  let l1Ranges: [Range<Int>]
  let clipNorm: Double

  init(_ t: TrainSettings, arena: ParameterArena, stepsPerEpoch: Int) {
    schedule = LRSchedule(
      kind: t.schedule, lr: t.lr, warmupSteps: t.warmupSteps, gamma: t.gamma, stepEpochs: t.stepEpochs, lrMin: t.lrMin,
      stepsPerEpoch: stepsPerEpoch, totalSteps: t.epochs * stepsPerEpoch)
    l1 = t.l1
    l1Ranges = GradientTransforms.weightRanges(arena)
    clipNorm = t.clipNorm
  }

  /// Applies the controls and takes optimiser step `step` (0-based over the run). Returns the pre-clip
  /// gradient norm and the learning rate used.
  func step(_ arena: ParameterArena, _ optimizer: Optimizer, step: Int) -> (norm: Double, lr: Double) {
    if l1 > 0 { GradientTransforms.addL1(arena, lambda: l1, ranges: l1Ranges) }
    let norm = GradientTransforms.globalNorm(arena)
    if clipNorm > 0 { GradientTransforms.clip(arena, maxNorm: clipNorm, norm: norm) }
    optimizer.lr = schedule.lr(step: step)
    optimizer.step(arena)
    return (norm, optimizer.lr)
  }

  /// `train.warmup_steps` must leave steps after the warm-up (checked once the steps per epoch are known).
  static func checkWarmup(_ t: TrainSettings, stepsPerEpoch: Int) throws {
    let total = t.epochs * stepsPerEpoch
    guard t.warmupSteps > 0, t.warmupSteps >= total else { return }
    throw MMError(
      "train.warmup_steps = \(t.warmupSteps) is not below the run's total steps \(total) (train.epochs \(t.epochs) × "
        + "\(stepsPerEpoch) steps per epoch); lower train.warmup_steps or raise train.epochs")
  }
}

extension OptimizerSettings {
  init(_ t: TrainSettings) {
    self.init(
      lr: t.lr, momentum: t.momentum, nesterov: t.nesterov, weightDecay: t.weightDecay, beta1: t.beta1,
      beta2: t.beta2, eps: t.eps, alpha: t.alpha)
  }
}

extension LossSpec {
  /// The loss the config asks for. Class weights are resolved here: a list is checked against the class
  /// count (known once the labels are read), `balanced` counts the training rows (per-step targets: their
  /// valid steps) of all ranks (one all-reduce). Binary weights become pos_weight = w1 / w0. Collective: every rank calls it.
  static func make(_ c: TrainConfig, shard: Shard, trainingRows local: [Int], comm: Communicator) throws -> LossSpec {
    var spec = LossSpec(
      c.task.kind, labelSmoothing: Float(c.train.labelSmoothing), regression: c.task.loss,
      huberDelta: Float(c.task.huberDelta))
    let classes = shard.classes
    var weights: [Double]? = nil
    switch c.task.classWeights {
    case .none: break
    case .list(let w):
      try comm.agree {
        guard w.count != classes else { return }
        throw MMError(
          "task.class_weights has \(w.count) weights, but the labels of \(c.data.path) give \(classes) classes; give one weight per class"
        )
      }
      weights = w
    case .balanced:
      // A class per sample, or per valid step (task.target: step: a sample's targets are (S, 1), its fused
      // length steps valid); padded steps' labels are never read.
      var counts = [Double](repeating: 0, count: classes)
      let W = shard.targetWidth, perStep = shard.targetSteps > 1
      for i in local {
        for t in 0..<(perStep ? Int(shard.lengths[i]) : 1) { counts[Int(shard.targets[i * W + t])] += 1 }
      }
      comm.allreduceSum(&counts)
      let n = counts.reduce(0, +)
      try comm.agree {
        guard let empty = counts.firstIndex(of: 0) else { return }
        throw MMError(
          "task.class_weights: balanced needs every class in the training rows, but class \(empty) has none in \(c.data.path); "
            + "give the weights as a list")
      }
      weights = counts.map { n / (Double(classes) * $0) }  // sklearn: n / (C · count_c)
    }
    if let w = weights {
      if c.task.kind == .binary { spec.posWeight = Float(w[1] / w[0]) } else { spec.classWeights = w.map { Float($0) } }
    }
    return spec
  }
}
