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
  /// Global sample ids, ascending (per-step targets: each once per valid step).
  public var rows: [Int]
  /// Per row: class probabilities (multiclass: softmax; binary: [1 − σ(z), σ(z)]), or the K regression values.
  public var outputs: [[Double]]
  /// Per row: [class id] or the K targets (zeros when the file has no /labels).
  public var labels: [[Double]]
  /// Per-step targets: each row's time step (`rows` then repeats a sample once per valid step); nil otherwise.
  public var steps: [Int]?

  public init(rows: [Int], outputs: [[Double]], labels: [[Double]], steps: [Int]? = nil) {
    self.rows = rows
    self.outputs = outputs
    self.labels = labels
    self.steps = steps
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
      var logits = model.forward(mb)
      var targets = UnsafePointer(batch.targets.pointer), rows = mb.count
      if let steps = batch.stepRows {  // per-step targets: the valid steps are the rows
        steps.gather(logits: logits, targets: targets, lengths: mb.fusedLengths, batch: mb.count)
        (logits, targets, rows) = (
          UnsafePointer(steps.logits.pointer), UnsafePointer(steps.targets.pointer), steps.count
        )
      }
      let r = Loss.evaluate(
        session.lossSpec, logits: logits, targets: targets, batch: rows, outputs: model.outputs, denominator: 1,
        dlogits: nil)
      totals.lossSum += r.lossSum; totals.samples += Double(rows); totals.correct += Double(r.correct)
      totals.weightSum += r.weightSum; totals.absErrorSum += r.absErrorSum
      if lossKind != .regression {
        confusion.add(
          logits: logits, targets: targets, batch: rows, outputs: model.outputs, binary: lossKind == .binary)
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

  /// Outputs for `rows` (global ids); per-step targets: one output row per valid step of each, in step order.
  /// `masking` a modality (model order) zeroes its features and gives it length 0 in every sample, as
  /// `report.ablation` asks. Collective.
  public func predict(rows: [Int], masking masked: Int? = nil) -> RowOutputs {
    let kind = config.task.kind
    let width = kind == .binary ? 2 : model.outputs
    let T = batch.stepRows?.steps ?? 1, perStep = batch.stepRows != nil  // T output slots per sample
    let labelWidth = session.shard.targetsPerStep
    let stride = width + labelWidth + (perStep ? 1 : 0)  // per step: + 1 for "this step is valid"
    var buffer = [Double](repeating: 0, count: rows.count * T * stride)
    var position: [Int: Int] = [:]
    for (i, r) in rows.enumerated() { position[r] = i }
    forEachEvaluationChunk(rows.sorted()) { mb in
      if let masked { mask(mb, modality: masked) }
      let logits = model.forward(mb)
      let C = model.outputs, B = mb.count
      for b in 0..<B {
        for t in 0..<(perStep ? min(Int(mb.fusedLengths[b]), T) : 1) {
          let p = (position[mb.samples[b]]! * T + t) * stride
          Self.probabilities(logits + (t * B + b) * C, outputs: C, kind, into: &buffer, at: p)
          let y = batch.targets.pointer + (b * T + t) * labelWidth
          for k in 0..<labelWidth { buffer[p + width + k] = Double(y[k]) }
          if perStep { buffer[p + width + labelWidth] = 1 }
        }
      }
    }
    comm.allreduceSum(&buffer)
    var out = RowOutputs(rows: [], outputs: [], labels: [])
    if perStep { out.steps = [] }
    for i in rows.indices {
      for t in 0..<T {
        let p = (i * T + t) * stride
        if perStep && buffer[p + width + labelWidth] == 0 { continue }
        out.rows.append(rows[i])
        out.steps?.append(t)
        out.outputs.append(Array(buffer[p..<(p + width)]))
        out.labels.append(Array(buffer[(p + width)..<(p + width + labelWidth)]))
      }
    }
    return out
  }

  /// One row's logits z (C) as RowOutputs holds them: softmax probabilities (multiclass), [1 − σ(z), σ(z)]
  /// (binary), or the values (regression), written at `out[p...]`.
  static func probabilities(
    _ z: UnsafePointer<Float>, outputs C: Int, _ kind: TaskKind, into out: inout [Double], at p: Int
  ) {
    switch kind {
    case .multiclass:
      var mx = Double(z[0])
      for k in 1..<C { mx = max(mx, Double(z[k])) }
      var sum = 0.0
      for k in 0..<C { sum += exp(Double(z[k]) - mx) }
      for k in 0..<C { out[p + k] = exp(Double(z[k]) - mx) / sum }
    case .binary:
      let q = 1 / (1 + exp(-Double(z[0])))
      out[p] = 1 - q
      out[p + 1] = q
    case .regression:
      for k in 0..<C { out[p + k] = Double(z[k]) }
    }
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
