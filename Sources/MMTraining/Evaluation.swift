import Foundation
import MMData
import MMEval
import MMModel

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
}

extension Trainer {
  /// Outputs for `rows` (global ids). `masking` a modality (model order) zeroes its features and gives it
  /// length 0 in every sample, as `report.ablation` asks. Collective.
  public func predict(rows: [Int], masking masked: Int? = nil) -> RowOutputs {
    let kind = config.task.kind
    let width = kind == .binary ? 2 : model.outputs
    let labelWidth = shard.targetWidth
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
    Trainer.metrics(o, kind: config.task.kind)
  }

  public static func metrics(_ o: RowOutputs, kind: TaskKind) -> EvalMetrics {
    if kind == .regression {
      return EvalMetrics(regression: RegressionMetrics(targets: o.labels, predictions: o.outputs))
    }
    return EvalMetrics(classification: ClassificationMetrics(labels: o.labels.map { Int($0[0]) }, probabilities: o.outputs))
  }

  /// The modality names in model order.
  public var modalityNames: [String] { model.spec.inputs.map(\.name) }

  /// The per-epoch curves so far, as the report shows them.
  public var curves: [EpochPoint] {
    history.map { EpochPoint(epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy, valLoss: $0.valLoss, valAccuracy: $0.valAccuracy) }
  }
}
