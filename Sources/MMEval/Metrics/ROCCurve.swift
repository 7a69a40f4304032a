/// A receiver operating characteristic: (false positive rate, true positive rate) at every distinct
/// score threshold, from (0, 0) to (1, 1) — sklearn's `roc_curve(drop_intermediate=False)` points.
/// Tied scores form one threshold, so the AUC (trapezoids between the points) counts a tied
/// positive/negative pair as one half, as sklearn's `roc_auc_score` does.
public struct ROCCurve: Codable, Equatable, Sendable {
  public var fpr: [Double]
  public var tpr: [Double]

  public init(fpr: [Double], tpr: [Double]) {
    self.fpr = fpr
    self.tpr = tpr
  }

  /// nil unless there are both positives and negatives. Long curves keep at most `maxPoints` points
  /// (evenly spaced along the curve, end points kept); `auc` always uses the full curve.
  public init?(positive: [Bool], scores: [Double], maxPoints: Int = 500) {
    guard let (fpr, tpr) = ROCCurve.points(positive: positive, scores: scores) else { return nil }
    if fpr.count <= maxPoints {
      self.init(fpr: fpr, tpr: tpr)
    } else {
      let keep = (0..<maxPoints).map { Int((Double($0) * Double(fpr.count - 1) / Double(maxPoints - 1)).rounded()) }
      self.init(fpr: keep.map { fpr[$0] }, tpr: keep.map { tpr[$0] })
    }
  }

  static func points(positive: [Bool], scores: [Double]) -> ([Double], [Double])? {
    let positives = positive.filter { $0 }.count
    let negatives = positive.count - positives
    guard positives > 0 && negatives > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] > scores[$1] }
    var fpr = [0.0], tpr = [0.0]
    var tp = 0, fp = 0
    var i = 0
    while i < order.count {
      let threshold = scores[order[i]]
      while i < order.count && scores[order[i]] == threshold {
        if positive[order[i]] { tp += 1 } else { fp += 1 }
        i += 1
      }
      fpr.append(Double(fp) / Double(negatives))
      tpr.append(Double(tp) / Double(positives))
    }
    return (fpr, tpr)
  }

  /// Area under the ROC curve (trapezoidal over all distinct thresholds); nil for a single class.
  public static func auc(positive: [Bool], scores: [Double]) -> Double? {
    guard let (fpr, tpr) = points(positive: positive, scores: scores) else { return nil }
    var area = 0.0
    for i in 1..<fpr.count { area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 }
    return area
  }
}
