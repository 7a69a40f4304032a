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

  /// The single run's result (train, evaluate; the ensemble's for an ensemble evaluation).
  static func single(_ r: Report) -> FoldResult? { r.isSingleRun ? r.folds.first : nil }

  /// Baselines in the units of `metric`.
  static func baselines(_ r: Report, metric: String) -> [Baseline] {
    r.diagnostics?.baselines.filter { $0.metric == metric } ?? []
  }

  /// Confusion matrices summed over the folds.
  static func pooledConfusion(_ r: Report) -> [[Int]]? {
    let ms = r.folds.compactMap { $0.metrics.classification?.confusion }
    guard var total = ms.first else { return nil }
    for m in ms.dropFirst() { for i in m.indices { for j in m[i].indices { total[i][j] += m[i][j] } } }
    return total
  }

  /// How a metric is named in prose: error metrics in capitals (MAE), others as their report name.
  static func metricName(_ m: String) -> String {
    switch m {
    case "mse", "rmse", "mae": return m.uppercased()
    case "log_loss": return "log loss"
    default: return m
    }
  }

  /// What the ablation measures, in words that say which way is worse.
  static func ablationChange(_ metric: String) -> String {
    EvalMetrics.lowerIsBetter.contains(metric)
      ? "increase of \(metricName(metric)) (worse)" : "drop of \(metricName(metric))"
  }

  /// "0.8570 [0.8210, 0.8900]": a value and its bootstrap interval, when there is one.
  static func withInterval(_ v: Double?, _ i: MetricInterval?) -> String {
    guard let lo = i?.low, let hi = i?.high else { return value(v) }
    return "\(value(v)) [\(value(lo)), \(value(hi))]"
  }

  static func intervalNote(_ r: Report) -> String {
    let over =
      r.diagnostics?.bootstrapSamples.map { "\($0) samples (each with all its steps)" }
      ?? "\(r.diagnostics?.n ?? 0) prediction rows"
    return "95% CI: percentile bootstrap over the \(over) (\(Bootstrap.resamples) resamples, seed \(Bootstrap.seed))."
  }

  /// The ensemble sentence of an evaluate report of a cv run directory.
  static func ensembleLine(_ r: Report) -> String? {
    guard let members = r.ensemble, !members.isEmpty else { return nil }
    let how = r.task.isClassification ? "mean of probabilities" : "mean of predictions"
    return "ensemble of \(members.count) fold models (\(how))"
  }

  static func headline(_ r: Report) -> String {
    switch r.kind {
    case .cv:
      let cv = r.cv!
      return "\(cv.k)-fold cross-validation (\(cv.strategy)\(cv.shuffle ? ", shuffled, seed \(cv.seed)" : "")) "
        + "of a \(r.task.kind) model on \(r.data.samples) samples"
    case .train: return "Training run (\(r.task.kind)); metrics on the validation split"
    case .evaluate:
      if let ensemble = ensembleLine(r) {
        return "Evaluation of an \(ensemble), \(r.task.kind), on \(r.data.samples) samples"
      }
      return "Evaluation of a checkpoint (\(r.task.kind)) on \(r.data.samples) samples"
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
