import Foundation

/// Student's t distribution: CDF through the regularised incomplete beta function, quantile by
/// bisection on the CDF (to ~1e-13, for any df > 0). Used for the 95% confidence interval of a
/// metric's mean over k folds: mean ± t(0.975, k−1) · s / √k.
public enum StudentT {
  /// P(T ≤ t) for T ~ t(df).
  public static func cdf(_ t: Double, df: Double) -> Double {
    let x = df / (df + t * t)
    let tail = 0.5 * regularizedIncompleteBeta(x, a: df / 2, b: 0.5)
    return t >= 0 ? 1 - tail : tail
  }

  /// The p-quantile, p in (0, 1).
  public static func quantile(_ p: Double, df: Double) -> Double {
    precondition(p > 0 && p < 1 && df > 0)
    if p == 0.5 { return 0 }
    if p < 0.5 { return -quantile(1 - p, df: df) }
    var lo = 0.0, hi = 1.0
    while cdf(hi, df: df) < p { lo = hi; hi *= 2 }
    for _ in 0..<200 {
      let mid = 0.5 * (lo + hi)
      if cdf(mid, df: df) < p { lo = mid } else { hi = mid }
      if hi - lo <= 1e-15 * hi { break }
    }
    return 0.5 * (lo + hi)
  }

  /// I_x(a, b), by the continued fraction (modified Lentz), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a)
  /// where the fraction converges faster.
  static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let lnFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
    if x > (a + 1) / (a + b + 2) {
      return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a)
    }
    return exp(lnFront) * betaContinuedFraction(x, a: a, b: b) / a
  }

  private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
    let tiny = 1e-300
    var c = 1.0
    var d = 1 - (a + b) * x / (a + 1)
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...10_000 {
      let m = Double(m)
      // even step
      var num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      h *= d * c
      // odd step
      num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      let delta = d * c
      h *= delta
      if abs(delta - 1) < 1e-16 { break }
    }
    return h
  }
}

/// A metric over the folds: mean, sample standard deviation (n − 1) and the two-sided 95% confidence
/// interval of the mean from the t distribution with n − 1 degrees of freedom. Folds where the metric is
/// undefined (e.g. ROC-AUC of a single-class fold) are left out and `n` says how many remained; with one
/// value the std and CI are nil.
public struct MetricSummary: Codable, Equatable, Sendable {
  public var metric: String
  public var n: Int
  public var mean: Double?
  public var std: Double?
  public var ciLow: Double?
  public var ciHigh: Double?

  public init(metric: String, values: [Double?]) {
    self.metric = metric
    let v = values.compactMap { $0 }.filter { $0.isFinite }
    n = v.count
    guard !v.isEmpty else { return }
    let m = v.reduce(0, +) / Double(v.count)
    mean = m
    guard v.count >= 2 else { return }
    let s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    std = s
    let half = StudentT.quantile(0.975, df: Double(v.count - 1)) * s / Double(v.count).squareRoot()
    ciLow = m - half
    ciHigh = m + half
  }
}
