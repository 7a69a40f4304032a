import Foundation
import MMTensor

/// Percentile bootstrap of every scalar metric of one evaluation: resample the rows with replacement,
/// recompute the metrics, take the 2.5th and 97.5th percentiles (numpy's linear interpolation). Seeded,
/// so the same predictions give the same interval on every machine.
public enum Bootstrap {
  public static let resamples = 1000
  public static let seed: UInt64 = 0

  /// `metrics(indices)` evaluates the rows at `indices` (a resample of 0..<n, repeats allowed). `clusters`:
  /// rows that belong together (a sample's time steps, for per-step targets) are drawn together: each
  /// resample draws as many clusters as there are, with replacement, and takes all their rows (a cluster
  /// bootstrap: the steps of one sample are not independent draws).
  public static func intervals(
    n: Int, clusters: [[Int]]? = nil, resamples: Int = Bootstrap.resamples, seed: UInt64 = Bootstrap.seed,
    metrics: ([Int]) -> EvalMetrics
  ) -> [MetricInterval] {
    guard n > 0 else { return [] }
    let full = metrics(Array(0..<n)).scalars
    var samples = [[Double]](repeating: [], count: full.count)
    var rng = RNG(seed: seed)
    var indices = [Int](repeating: 0, count: n)
    for _ in 0..<resamples {
      if let clusters, !clusters.isEmpty {
        indices.removeAll(keepingCapacity: true)
        for _ in clusters.indices {
          indices += clusters[min(clusters.count - 1, Int(rng.uniform() * Double(clusters.count)))]
        }
      } else {
        for i in 0..<n { indices[i] = min(n - 1, Int(rng.uniform() * Double(n))) }
      }
      for (j, s) in metrics(indices).scalars.enumerated() where j < full.count {
        // undefined in this resample (e.g. ROC-AUC with one class drawn): left out
        if let v = s.value, v.isFinite { samples[j].append(v) }
      }
    }
    return full.enumerated().map { j, s in
      let sorted = samples[j].sorted()
      let enough = sorted.count >= resamples / 2
      return MetricInterval(
        metric: s.name, value: s.value, low: enough ? percentile(sorted, 2.5) : nil,
        high: enough ? percentile(sorted, 97.5) : nil, resamples: sorted.count)
    }
  }

  /// numpy's `percentile(v, q)` (linear interpolation) of sorted values.
  static func percentile(_ sorted: [Double], _ q: Double) -> Double {
    let pos = q / 100 * Double(sorted.count - 1)
    let lo = Int(pos.rounded(.down))
    let hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (pos - Double(lo)) * (sorted[hi] - sorted[lo])
  }
}

/// A metric's point estimate and its bootstrap 95% interval (nil where fewer than half the resamples
/// defined the metric).
public struct MetricInterval: Codable, Equatable, Sendable {
  public var metric: String
  public var value: Double?
  public var low: Double?
  public var high: Double?
  /// resamples where the metric was defined
  public var resamples: Int

  public init(metric: String, value: Double?, low: Double?, high: Double?, resamples: Int) {
    self.metric = metric
    self.value = value
    self.low = low
    self.high = high
    self.resamples = resamples
  }
}
