import Foundation

/// Classification metrics of one evaluation (one fold's test set, a validation split, a data file), with
/// scikit-learn's definitions:
/// - `precision`, `recall`, `f1`, `support`: per class 0..<C (sklearn `labels=range(C)`), 0 where undefined
///   (`zero_division=0`: a class never predicted has precision 0, a class absent from the truth recall 0).
/// - `macro*`: unweighted mean over the classes present in the truth or the predictions (sklearn's default
///   label set), so a class absent from a fold and never predicted does not drag the mean down.
/// - `weighted*`: mean weighted by support (classes absent from the truth weigh 0).
/// - `balancedAccuracy`: mean recall over the classes present in the truth.
/// - `rocAuc`: binary, the AUC of class 1's probability; multiclass, one-vs-rest macro AUC over the classes
///   that have both positives and negatives in this set (sklearn's `multi_class="ovr"` when all are
///   present). Ties count one half (trapezoidal ROC, as sklearn). nil when no class qualifies.
/// - `logLoss`: mean −log p(true class), p clipped to [ε, 1−ε] with ε = machine epsilon (sklearn ≥ 1.5).
public struct ClassificationMetrics: Codable, Equatable, Sendable {
  public var n: Int
  public var accuracy: Double
  public var balancedAccuracy: Double
  public var precision: [Double]
  public var recall: [Double]
  public var f1: [Double]
  public var support: [Int]
  public var macroPrecision: Double
  public var macroRecall: Double
  public var macroF1: Double
  public var weightedPrecision: Double
  public var weightedRecall: Double
  public var weightedF1: Double
  /// confusion[true][predicted]
  public var confusion: [[Int]]
  public var rocAuc: Double?
  /// One-vs-rest AUC per class (nil where the class has no positives or no negatives here).
  public var rocAucPerClass: [Double?]
  public var logLoss: Double
  /// Binary only: the ROC curve of class 1 (at most 500 points, for the report's chart).
  public var roc: ROCCurve?

  /// `labels[i]` in 0..<C, `probabilities[i]` the C class probabilities (rows sum to 1). The prediction
  /// is the most probable class (the first on a tie, as numpy's argmax).
  public init(labels: [Int], probabilities: [[Double]]) {
    let n = labels.count
    let classes = probabilities.first?.count ?? 0
    precondition(n > 0 && probabilities.count == n && classes >= 2, "need ≥ 1 sample and ≥ 2 classes")
    let predicted = probabilities.map { argmax($0) }
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (y, p) in zip(labels, predicted) { confusion[y][p] += 1 }
    let support = (0..<classes).map { c in confusion[c].reduce(0, +) }
    let predictedCount = (0..<classes).map { c in confusion.reduce(0) { $0 + $1[c] } }
    let tp = (0..<classes).map { confusion[$0][$0] }
    func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    let precision = (0..<classes).map { ratio(tp[$0], predictedCount[$0]) }
    let recall = (0..<classes).map { ratio(tp[$0], support[$0]) }
    // sklearn ≥ 1.3: F = 2tp / (2tp + fp + fn), 0 when that is 0/0.
    let f1 = (0..<classes).map {
      ratio(2 * tp[$0], 2 * tp[$0] + (predictedCount[$0] - tp[$0]) + (support[$0] - tp[$0]))
    }
    let present = (0..<classes).filter { support[$0] > 0 || predictedCount[$0] > 0 }
    let inTruth = (0..<classes).filter { support[$0] > 0 }
    func macro(_ v: [Double]) -> Double { present.map { v[$0] }.reduce(0, +) / Double(present.count) }
    func weighted(_ v: [Double]) -> Double {
      (0..<classes).map { v[$0] * Double(support[$0]) }.reduce(0, +) / Double(n)
    }

    self.n = n
    self.accuracy = Double(tp.reduce(0, +)) / Double(n)
    self.balancedAccuracy = inTruth.map { recall[$0] }.reduce(0, +) / Double(inTruth.count)
    self.precision = precision
    self.recall = recall
    self.f1 = f1
    self.support = support
    self.macroPrecision = macro(precision)
    self.macroRecall = macro(recall)
    self.macroF1 = macro(f1)
    self.weightedPrecision = weighted(precision)
    self.weightedRecall = weighted(recall)
    self.weightedF1 = weighted(f1)
    self.confusion = confusion
    let perClass = (0..<classes).map { c in
      ROCCurve.auc(positive: labels.map { $0 == c }, scores: probabilities.map { $0[c] })
    }
    self.rocAucPerClass = perClass
    if classes == 2 {
      self.rocAuc = perClass[1]
      self.roc =
        perClass[1] == nil ? nil : ROCCurve(positive: labels.map { $0 == 1 }, scores: probabilities.map { $0[1] })
    } else {
      let defined = perClass.compactMap { $0 }
      self.rocAuc = defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
      self.roc = nil
    }
    let eps = Double.ulpOfOne
    self.logLoss =
      zip(labels, probabilities).map { y, p in -log(min(max(p[y], eps), 1 - eps)) }.reduce(0, +) / Double(n)
  }
}

/// Index of the largest value, the first on a tie (numpy's argmax).
@inlinable func argmax(_ v: [Double]) -> Int {
  var best = 0
  for i in 1..<v.count where v[i] > v[best] { best = i }
  return best
}
