import Foundation
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMModel
import MMTensor

/// Exact evaluation of a set of rows: every row once (no padding, no duplicates), in chunks that are the same
/// for every world size (EvaluationChunks.swift), and the per-sample outputs assembled on every rank by one
/// all-reduce of a zero-filled buffer (each position is written by exactly one rank, so the sum is exact). The
/// result does not depend on the world size, to the last bit.
public struct RowOutputs {
  /// Global sample ids, ascending.
  public var rows: [Int]
  /// Per row: class probabilities (multiclass: softmax; binary: [1 − σ(z), σ(z)]), or the K regression values.
  public var outputs: [[Double]]
  /// Per row: [class id] or the K targets (zeros when the file has no /labels).
  public var labels: [[Double]]

  public init(rows: [Int], outputs: [[Double]], labels: [[Double]]) {
    self.rows = rows
    self.outputs = outputs
    self.labels = labels
  }
}

/// Metrics and predictions over a session: the validation split each epoch (loss, accuracy, F1, MAE,
/// all-reduced), and every row's outputs for reports, `evaluate` and `predict`. Collective: every rank calls
/// the same methods with the same rows.
public struct Evaluator {
  public let session: TrainingSession
  public init(_ session: TrainingSession) { self.session = session }

  var model: MultimodalModel { session.model }
  var batch: BatchBuffers { session.batch }
  var comm: Communicator { session.comm }
  var config: TrainConfig { session.config }

  /// Exact evaluation of the validation split: every row once, in world-size-independent chunks
  /// (EvaluationChunks.swift); sums and counts all-reduced.
  func validate() -> ValidationResult? {
    let validationRows = session.split.validationRows
    if validationRows.isEmpty { return nil }
    let lossKind = config.task.kind
    var totals = ValidationTotals()
    var confusion = ConfusionCounts(classes: lossKind == .regression ? 0 : session.shard.classes)
    forEachEvaluationChunk(validationRows) { mb in
      let logits = model.forward(mb)
      let r = Loss.evaluate(
        session.lossSpec, logits: logits, targets: batch.targets.pointer, batch: mb.count, outputs: model.outputs,
        denominator: 1, dlogits: nil)
      totals.lossSum += r.lossSum; totals.samples += Double(mb.count); totals.correct += Double(r.correct)
      totals.weightSum += r.weightSum; totals.absErrorSum += r.absErrorSum
      if lossKind != .regression {
        confusion.add(
          logits: logits, targets: batch.targets.pointer, batch: mb.count, outputs: model.outputs,
          binary: lossKind == .binary)
      }
    }
    totals.allreduce(comm)
    if lossKind != .regression { comm.allreduceSum(&confusion.counts) }
    let n = max(totals.samples, 1)
    let loss = totals.weightSum > 0 ? totals.lossSum / totals.weightSum : 0
    return lossKind == .regression
      ? ValidationResult(loss: loss, mae: totals.absErrorSum / n)
      : ValidationResult(loss: loss, accuracy: totals.correct / n, f1: confusion.f1(binary: lossKind == .binary))
  }

  /// Outputs for `rows` (global ids). `masking` a modality (model order) zeroes its features and gives it
  /// length 0 in every sample, as `report.ablation` asks. Collective.
  public func predict(rows: [Int], masking masked: Int? = nil) -> RowOutputs {
    let kind = config.task.kind
    let width = kind == .binary ? 2 : model.outputs
    let labelWidth = session.shard.targetWidth
    let stride = width + labelWidth
    var buffer = [Double](repeating: 0, count: rows.count * stride)
    var position: [Int: Int] = [:]
    for (i, r) in rows.enumerated() { position[r] = i }
    forEachEvaluationChunk(rows.sorted()) { mb in
      if let masked { mask(mb, modality: masked) }
      let logits = model.forward(mb)
      let C = model.outputs
      for b in 0..<mb.count {
        let p = position[mb.samples[b]]! * stride
        let z = logits + b * C
        switch kind {
        case .multiclass:
          var mx = Double(z[0])
          for k in 1..<C { mx = max(mx, Double(z[k])) }
          var sum = 0.0
          for k in 0..<C { sum += exp(Double(z[k]) - mx) }
          for k in 0..<C { buffer[p + k] = exp(Double(z[k]) - mx) / sum }
        case .binary:
          let q = 1 / (1 + exp(-Double(z[0])))
          buffer[p] = 1 - q
          buffer[p + 1] = q
        case .regression:
          for k in 0..<C { buffer[p + k] = Double(z[k]) }
        }
        for k in 0..<labelWidth { buffer[p + width + k] = Double(batch.targets[b * labelWidth + k]) }
      }
    }
    comm.allreduceSum(&buffer)
    return RowOutputs(
      rows: rows,
      outputs: rows.indices.map { Array(buffer[($0 * stride)..<($0 * stride + width)]) },
      labels: rows.indices.map { Array(buffer[($0 * stride + width)..<(($0 + 1) * stride)]) })
  }

  /// Masks modality `m` in a gathered batch: zero features and length 0; the fused length becomes the
  /// longest remaining modality's (at least 1).
  func mask(_ b: ModelBatch, modality m: Int) {
    let spec = model.spec, B = b.count, S = spec.maxSteps, D = spec.width
    let input = spec.inputs[m]
    for s in 0..<B {
      for t in 0..<S { (b.x + (t * B + s) * D + input.column).update(repeating: 0, count: input.features) }
      b.lengths[m * B + s] = 0
      var longest: Int32 = 1
      for other in spec.inputs.indices where other != m { longest = max(longest, b.lengths[other * B + s]) }
      b.fusedLengths[s] = longest
    }
  }

  /// The metrics of `outputs` against their labels for this task.
  public func metrics(_ o: RowOutputs) -> EvalMetrics {
    Evaluator.metrics(o, kind: config.task.kind)
  }

  public static func metrics(_ o: RowOutputs, kind: TaskKind) -> EvalMetrics {
    if kind == .regression {
      return EvalMetrics(regression: RegressionMetrics(targets: o.labels, predictions: o.outputs))
    }
    return EvalMetrics(
      classification: ClassificationMetrics(labels: o.labels.map { Int($0[0]) }, probabilities: o.outputs))
  }

}
