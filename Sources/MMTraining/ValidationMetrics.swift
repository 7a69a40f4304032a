import MMConfig
import MMDistributed

/// The validation split's metrics, each all-reduced: loss (class-weighted like the training loss),
/// accuracy, F1 (binary: of class 1; multiclass: macro over the classes that occur in labels or
/// predictions), and MAE (regression: mean |prediction − target| over all outputs).
struct ValidationResult {
  var loss: Double
  var accuracy: Double?
  var f1: Double?
  var mae: Double?

  func value(of metric: EarlyStoppingMetric) -> Double {
    switch metric {
    case .valLoss: return loss
    case .valAccuracy: return accuracy ?? .nan
    case .valF1: return f1 ?? .nan
    case .valMAE: return mae ?? .nan
    }
  }
}

/// True/false positives and false negatives per class, for F1.
struct ConfusionCounts {
  var counts: [Double]  // (3, C): tp, fp, fn
  let classes: Int
  init(classes: Int) { self.classes = classes; counts = .init(repeating: 0, count: 3 * classes) }

  /// logits (B, outputs): binary predicts 1 when z > 0; multiclass the argmax.
  mutating func add(
    logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int, outputs: Int, binary: Bool
  ) {
    for b in 0..<B {
      let y = Int(targets[b])
      var predicted = 0
      if binary {
        predicted = logits[b] > 0 ? 1 : 0
      } else {
        for k in 1..<outputs where logits[b * outputs + k] > logits[b * outputs + predicted] { predicted = k }
      }
      if predicted == y { counts[y] += 1 } else { counts[classes + predicted] += 1; counts[2 * classes + y] += 1 }
    }
  }

  func f1(binary: Bool) -> Double {
    func f1(_ c: Int) -> Double {
      let tp = counts[c], fp = counts[classes + c], fn = counts[2 * classes + c]
      return tp + fp + fn == 0 ? 0 : 2 * tp / (2 * tp + fp + fn)
    }
    if binary { return f1(1) }
    let present = (0..<classes).filter { counts[$0] + counts[classes + $0] + counts[2 * classes + $0] > 0 }
    return present.isEmpty ? 0 : present.map(f1).reduce(0, +) / Double(present.count)
  }
}

/// What the validation chunks of one rank add up; all-reduced once.
struct ValidationTotals {
  var lossSum = 0.0  // Σ per-sample loss (class-weighted)
  var samples = 0.0
  var correct = 0.0
  var weightSum = 0.0  // Σ class weights
  var absErrorSum = 0.0  // regression: Σ per-sample mean |prediction − target|

  mutating func allreduce(_ comm: Communicator) {
    var v = [lossSum, samples, correct, weightSum, absErrorSum]
    comm.allreduceSum(&v)
    (lossSum, samples, correct, weightSum, absErrorSum) = (v[0], v[1], v[2], v[3], v[4])
  }
}
