import Foundation

/// Regression metrics of one evaluation, scikit-learn's definitions. With K target columns every metric
/// is the unweighted mean over the columns (sklearn's `multioutput="uniform_average"`; RMSE is the mean of
/// the per-column RMSEs, as `root_mean_squared_error`). `r2` follows sklearn's `force_finite`: a constant
/// target gives 1 for a perfect fit, else 0. `pearson` is nil where a column (truth or prediction) is
/// constant.
public struct RegressionMetrics: Codable, Equatable, Sendable {
  public var n: Int
  public var mse: Double
  public var rmse: Double
  public var mae: Double
  public var r2: Double
  public var pearson: Double?
  /// Sentiment-score metrics (one target column, every target within [−3, 3]); else nil.
  public var sentiment: SentimentMetrics?
  /// (true, predicted) pairs of the first column for the report's scatter plot (at most 2,000, evenly
  /// spaced over the samples).
  public var scatter: [[Double]]

  /// `targets[i]` and `predictions[i]` hold the K values of sample i.
  public init(targets: [[Double]], predictions: [[Double]]) {
    let n = targets.count
    let k = targets.first?.count ?? 0
    precondition(n > 0 && predictions.count == n && k > 0, "need ≥ 1 sample and ≥ 1 column")
    var mse = 0.0, rmse = 0.0, mae = 0.0, r2 = 0.0, r = 0.0
    var pearsonDefined = true
    for j in 0..<k {
      let y = targets.map { $0[j] }, p = predictions.map { $0[j] }
      let colMSE = zip(y, p).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(n)
      mse += colMSE
      rmse += colMSE.squareRoot()
      mae += zip(y, p).map { abs($0 - $1) }.reduce(0, +) / Double(n)
      let mean = y.reduce(0, +) / Double(n)
      let ssTot = y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
      let ssRes = colMSE * Double(n)
      r2 += ssTot == 0 ? (ssRes == 0 ? 1 : 0) : 1 - ssRes / ssTot
      if let c = pearsonR(y, p) { r += c } else { pearsonDefined = false }
    }
    let K = Double(k)
    self.n = n
    self.mse = mse / K
    self.rmse = rmse / K
    self.mae = mae / K
    self.r2 = r2 / K
    self.pearson = pearsonDefined ? r / K : nil
    let y0 = targets.map { $0[0] }, p0 = predictions.map { $0[0] }
    self.sentiment = k == 1 && y0.allSatisfy({ $0 >= -3 && $0 <= 3 }) ? SentimentMetrics(truth: y0, predicted: p0) : nil
    let step = max(1, (n + 1999) / 2000)
    self.scatter = stride(from: 0, to: n, by: step).map { [y0[$0], p0[$0]] }
  }
}

/// Pearson's r (nil when either side is constant).
func pearsonR(_ x: [Double], _ y: [Double]) -> Double? {
  let n = Double(x.count)
  let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
  var sxy = 0.0, sxx = 0.0, syy = 0.0
  for (a, b) in zip(x, y) {
    sxy += (a - mx) * (b - my)
    sxx += (a - mx) * (a - mx)
    syy += (b - my) * (b - my)
  }
  guard sxx > 0 && syy > 0 else { return nil }
  return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
}

/// The multimodal sentiment literature's (CMU-MOSI/MOSEI) binary and 7-class scores of a regression on
/// [−3, 3], exactly as the MMSA toolkit computes them (MISA, Self-MM, MulT report these):
/// - `acc2Has0`, `f1Has0`: negative (< 0) vs non-negative (≥ 0), all samples.
/// - `acc2Non0`, `f1Non0`: negative (< 0) vs positive (> 0), samples whose true score is 0 left out
///   (nil when every true score is 0).
/// - F1 is sklearn's `average="weighted"` F1 of the two classes.
/// - `acc7`: truth and prediction clipped to [−3, 3] and rounded half to even (np.round), then compared.
public struct SentimentMetrics: Codable, Equatable, Sendable {
  public var acc2Has0: Double
  public var f1Has0: Double
  public var acc2Non0: Double?
  public var f1Non0: Double?
  public var acc7: Double

  public init(truth: [Double], predicted: [Double]) {
    let t = truth.map { $0 >= 0 }, p = predicted.map { $0 >= 0 }
    acc2Has0 = binaryAccuracy(t, p)
    f1Has0 = weightedBinaryF1(t, p)
    let nonZero = truth.indices.filter { truth[$0] != 0 }
    if nonZero.isEmpty {
      acc2Non0 = nil
      f1Non0 = nil
    } else {
      let tn = nonZero.map { truth[$0] > 0 }, pn = nonZero.map { predicted[$0] > 0 }
      acc2Non0 = binaryAccuracy(tn, pn)
      f1Non0 = weightedBinaryF1(tn, pn)
    }
    func class7(_ v: Double) -> Double { min(3, max(-3, v)).rounded(.toNearestOrEven) }
    acc7 = Double(zip(truth, predicted).filter { class7($0) == class7($1) }.count) / Double(truth.count)
  }
}

func binaryAccuracy(_ t: [Bool], _ p: [Bool]) -> Double {
  Double(zip(t, p).filter { $0 == $1 }.count) / Double(t.count)
}

/// sklearn `f1_score(t, p, average="weighted")` for two classes (zero_division=0).
func weightedBinaryF1(_ t: [Bool], _ p: [Bool]) -> Double {
  var total = 0.0
  for cls in [false, true] {
    let tp = zip(t, p).filter { $0 == cls && $1 == cls }.count
    let fp = zip(t, p).filter { $0 != cls && $1 == cls }.count
    let fn = zip(t, p).filter { $0 == cls && $1 != cls }.count
    let f = 2 * tp + fp + fn == 0 ? 0 : Double(2 * tp) / Double(2 * tp + fp + fn)
    total += f * Double(tp + fn)
  }
  return total / Double(t.count)
}
