import Foundation

/// A reliability diagram: 10 equal-width bins of a predicted probability, each bin's mean probability
/// against how often the prediction was right (multiclass: top-class confidence vs accuracy) or the
/// positive class occurred (binary: P(positive) vs its frequency). Bins as sklearn's `calibration_curve`
/// (`strategy="uniform"`): a value on an inner edge falls in the lower bin.
/// ECE = Σ_b (n_b / N) |accuracy_b − confidence_b| over the non-empty bins.
public struct Calibration: Codable, Equatable, Sendable {
  /// `top_class_confidence` (multiclass) or `positive_probability` (binary).
  public var quantity: String
  public var bins: [CalibrationBin]
  public var ece: Double

  public init(quantity: String, bins: [CalibrationBin], ece: Double) {
    self.quantity = quantity
    self.bins = bins
    self.ece = ece
  }

  /// `labels[i]` in 0..<C, `probabilities[i]` the C class probabilities.
  public init(labels: [Int], probabilities: [[Double]], binCount: Int = 10) {
    let binary = probabilities.first?.count == 2
    let pairs: [(p: Double, hit: Double)] = zip(labels, probabilities).map { y, p in
      if binary { return (p[1], y == 1 ? 1 : 0) }
      let top = argmax(p)
      return (p[top], y == top ? 1 : 0)
    }
    // numpy's linspace edges (i · step), so values on an edge bin exactly as in sklearn
    let step = 1 / Double(binCount)
    var count = [Int](repeating: 0, count: binCount)
    var sumP = [Double](repeating: 0, count: binCount)
    var sumHit = sumP
    for (p, hit) in pairs {
      // searchsorted(edges[1:-1], p, side="left"): index of the first inner edge ≥ p
      var b = 0
      while b < binCount - 1 && Double(b + 1) * step < p { b += 1 }
      count[b] += 1
      sumP[b] += p
      sumHit[b] += hit
    }
    let n = Double(pairs.count)
    var ece = 0.0
    let bins = (0..<binCount).map { b -> CalibrationBin in
      guard count[b] > 0 else {
        return CalibrationBin(
          lower: Double(b) * step, upper: Double(b + 1) * step,
          count: 0, confidence: nil, accuracy: nil)
      }
      let conf = sumP[b] / Double(count[b])
      let acc = sumHit[b] / Double(count[b])
      ece += Double(count[b]) / n * abs(acc - conf)
      return CalibrationBin(
        lower: Double(b) * step, upper: Double(b + 1) * step,
        count: count[b], confidence: conf, accuracy: acc)
    }
    self.init(quantity: binary ? "positive_probability" : "top_class_confidence", bins: bins, ece: ece)
  }
}

public struct CalibrationBin: Codable, Equatable, Sendable {
  public var lower: Double
  public var upper: Double
  public var count: Int
  /// mean predicted probability in the bin (nil when empty)
  public var confidence: Double?
  /// share right (multiclass) or share positive (binary) in the bin
  public var accuracy: Double?

  public init(lower: Double, upper: Double, count: Int, confidence: Double?, accuracy: Double?) {
    self.lower = lower
    self.upper = upper
    self.count = count
    self.confidence = confidence
    self.accuracy = accuracy
  }
}
