import Foundation
import MMDistributed

/// One epoch as metrics.jsonl records it (one JSON object per line, keys sorted, a non-finite number as null).
public struct EpochRecord: Encodable, Sendable {
  public var epoch: Int
  public var trainLoss: Double
  public var trainAccuracy: Double?  // classification
  public var valLoss: Double?, valAccuracy: Double?
  public var valF1: Double? = nil, valMAE: Double? = nil
  public var lr = 0.0, gradNorm = 0.0  // the epoch's last step's lr; mean pre-clip gradient norm
  public var samplesPerSecond: Double
  public var elapsed: Double  // since the run began, resumes included
  public var worldSize = 1
  public var trainSeconds = 0.0, mpiWaitSeconds = 0.0  // see RunTiming
  public var peakRSS = 0  // bytes, the largest rank's
  public var movedRows = 0  // rows processed by another rank than their owner, all ranks
  public var stepsRepeated: Int? = nil  // dist.world_invariant: steps computed again (ExactGradientSum)
  public var timing = RunTiming()  // the run's start-up

  enum Key: String, CodingKey {
    case epoch, lr
    case trainLoss = "train_loss", trainAccuracy = "train_accuracy", valLoss = "val_loss", valAccuracy = "val_accuracy"
    case valF1 = "val_f1", valMAE = "val_mae", gradNorm = "grad_norm", samplesPerSecond = "samples_per_s"
    case elapsed = "elapsed_s", worldSize = "world_size", trainSeconds = "train_s", mpiWaitSeconds = "mpi_wait_s"
    case peakRSS = "peak_rss_mb", movedRows = "balance_moved", stepsRepeated = "steps_repeated", startup = "startup_s",
      load = "load_s", loadBytes =
      "load_bytes"
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Key.self)
    func put(_ v: Double?, _ k: Key) throws {  // JSON has no NaN or Infinity: written as null
      guard let v else { return }
      if v.isFinite { try c.encode(v, forKey: k) } else { try c.encodeNil(forKey: k) }
    }
    try c.encode(epoch, forKey: .epoch)
    try put(trainLoss, .trainLoss)
    try put(trainAccuracy, .trainAccuracy)
    try put(valLoss, .valLoss)
    try put(valAccuracy, .valAccuracy)
    try put(valF1, .valF1)
    try put(valMAE, .valMAE)
    try put(lr, .lr)
    try put(gradNorm, .gradNorm)
    try put(samplesPerSecond, .samplesPerSecond)
    try put(elapsed, .elapsed)
    try c.encode(worldSize, forKey: .worldSize)
    try put(trainSeconds, .trainSeconds)
    try put(mpiWaitSeconds, .mpiWaitSeconds)
    try put(Double(peakRSS) / 1e6, .peakRSS)
    try c.encode(movedRows, forKey: .movedRows)
    try c.encodeIfPresent(stepsRepeated, forKey: .stepsRepeated)
    try put(timing.startupSeconds, .startup)
    try put(timing.loadSeconds, .load)
    try c.encode(timing.loadBytes, forKey: .loadBytes)
  }

  /// The line metrics.jsonl gets (without its newline).
  func jsonLine() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }

  /// The console's line for the epoch.
  func consoleLine(epochs: Int) -> String {
    var line = String(format: "epoch %d/%d  train loss %.4f", epoch, epochs, trainLoss)
    if let a = trainAccuracy { line += String(format: " acc %.3f", a) }
    if let v = valLoss { line += String(format: "  val loss %.4f", v) }
    if let a = valAccuracy { line += String(format: " acc %.3f", a) }
    line += String(format: "  lr %.3g  grad_norm %.3g", lr, gradNorm)
    line += String(format: "  %.0f samples/s  %.1fs", samplesPerSecond, elapsed)
    return line
  }
}

/// What one rank adds up over an epoch's training steps; all-reduced once at the epoch's end.
struct StepTotals {
  var lossSum = 0.0  // Σ per-sample loss (class-weighted)
  var samples = 0.0
  var rows = 0.0  // what the loss and accuracy are over: samples, or their valid steps (per-step targets)
  var correct = 0.0
  var weightSum = 0.0  // Σ class weights (= samples unless class-weighted)
  var collectiveSeconds = 0.0  // in the gradient sums and the batch balancing exchange
  var movedRows = 0.0

  /// Sums every rank's totals, in one collective.
  mutating func allreduce(_ comm: Communicator) {
    var v = [lossSum, samples, rows, correct, weightSum, collectiveSeconds, movedRows]
    comm.allreduceSum(&v)
    (lossSum, samples, rows, correct, weightSum, collectiveSeconds, movedRows) = (
      v[0], v[1], v[2], v[3], v[4], v[5], v[6]
    )
  }

  var meanLoss: Double { weightSum > 0 ? lossSum / weightSum : 0 }
}
