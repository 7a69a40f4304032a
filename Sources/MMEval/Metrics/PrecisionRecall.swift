import Foundation

/// Precision against recall at every distinct score threshold, sklearn's
/// `precision_recall_curve(drop_intermediate=False)` in the order of falling threshold: it starts at
/// (recall 0, precision 1), sklearn's appended end point, and ends at recall 1.
public struct PRCurve: Codable, Equatable, Sendable {
  public var recall: [Double]
  public var precision: [Double]

  public init(recall: [Double], precision: [Double]) {
    self.recall = recall
    self.precision = precision
  }

  /// nil without positives (recall is undefined there).
  public init?(positive: [Bool], scores: [Double]) {
    let positives = positive.filter { $0 }.count
    guard positives > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] > scores[$1] }
    var recall = [0.0]
    var precision = [1.0]
    var tp = 0
    var seen = 0
    var i = 0
    while i < order.count {
      // tied scores are one threshold
      let threshold = scores[order[i]]
      while i < order.count && scores[order[i]] == threshold {
        if positive[order[i]] { tp += 1 }
        seen += 1
        i += 1
      }
      recall.append(Double(tp) / Double(positives))
      precision.append(Double(tp) / Double(seen))
    }
    self.init(recall: recall, precision: precision)
  }

  /// sklearn's `average_precision_score`: Σ (R_k − R_{k−1}) P_k over the thresholds, the step function's
  /// area (no interpolation between the points).
  public var averagePrecision: Double {
    var ap = 0.0
    for k in 1..<recall.count { ap += (recall[k] - recall[k - 1]) * precision[k] }
    return max(0, ap)
  }
}

/// Keeps at most `maxPoints` of a drawn curve, evenly spaced along its length (first and last kept), so
/// a staircase of thousands of thresholds keeps its outline in a chart; areas are computed before this.
func thinCurve(_ x: [Double], _ y: [Double], maxPoints: Int = 200) -> (x: [Double], y: [Double]) {
  guard x.count > maxPoints, maxPoints >= 2 else { return (x, y) }
  var length = [0.0]
  for i in 1..<x.count { length.append(length[i - 1] + abs(x[i] - x[i - 1]) + abs(y[i] - y[i - 1])) }
  let total = length[x.count - 1]
  var keep: [Int] = [0]
  var next = 1
  for k in 1..<(maxPoints - 1) {
    let target = total * Double(k) / Double(maxPoints - 1)
    while next < x.count - 1 && length[next] < target { next += 1 }
    if next != keep.last! && next < x.count - 1 { keep.append(next) }
  }
  keep.append(x.count - 1)
  return (keep.map { x[$0] }, keep.map { y[$0] })
}
