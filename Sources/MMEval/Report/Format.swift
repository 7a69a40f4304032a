import Foundation

/// Number formatting shared by the markdown and HTML reports.
public enum ReportFormat {
  /// 4 decimals ("–" for an undefined value).
  public static func value(_ v: Double?) -> String {
    guard let v, v.isFinite else { return "–" }
    return String(format: "%.4f", v)
  }

  public static func meanStd(_ s: MetricSummary) -> String {
    guard let mean = s.mean else { return "–" }
    guard let std = s.std else { return value(mean) }
    return "\(value(mean)) ± \(value(std))"
  }

  public static func ci(_ s: MetricSummary) -> String {
    guard let lo = s.ciLow, let hi = s.ciHigh else { return "–" }
    return "[\(value(lo)), \(value(hi))]"
  }

  static func seconds(_ s: Double) -> String {
    s < 60 ? String(format: "%.1fs", s) : String(format: "%dm %02ds", Int(s) / 60, Int(s) % 60)
  }

  /// The metrics shown in the per-fold table (the full list is in report.json and the summary table).
  static func foldColumns(_ r: Report) -> [String] {
    let names = r.folds.first?.metrics.scalars.map(\.name) ?? []
    let preferred =
      r.task.isClassification
      ? ["accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc", "log_loss"]
      : ["mae", "rmse", "r2", "pearson", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7"]
    var cols = preferred.filter(names.contains)
    if !cols.contains(r.task.mainMetric) && names.contains(r.task.mainMetric) { cols.insert(r.task.mainMetric, at: 0) }
    return cols
  }

  static func className(_ r: Report, _ c: Int) -> String {
    if let names = r.task.classNames, c < names.count { return names[c] }
    return "\(c)"
  }

  /// Confusion matrices summed over the folds.
  static func pooledConfusion(_ r: Report) -> [[Int]]? {
    let ms = r.folds.compactMap { $0.metrics.classification?.confusion }
    guard var total = ms.first else { return nil }
    for m in ms.dropFirst() { for i in m.indices { for j in m[i].indices { total[i][j] += m[i][j] } } }
    return total
  }

  static func headline(_ r: Report) -> String {
    switch r.kind {
    case .cv:
      let cv = r.cv!
      return "\(cv.k)-fold cross-validation (\(cv.strategy)\(cv.shuffle ? ", shuffled, seed \(cv.seed)" : "")) "
        + "of a \(r.task.kind) model on \(r.data.samples) samples"
    case .train: return "Training run (\(r.task.kind)); metrics on the validation split"
    case .evaluate: return "Evaluation of a checkpoint (\(r.task.kind)) on \(r.data.samples) samples"
    }
  }

  static func setName(_ r: Report) -> String {
    switch r.kind {
    case .cv: return "test fold"
    case .train: return "validation split"
    case .evaluate: return "data file"
    }
  }
}
