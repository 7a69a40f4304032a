import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMTraining

/// RUN_DIR/report/ from the finished folds, and the console's summary of it.
extension CrossValidation {
  // MARK: - Merge

  /// Builds RUN_DIR/report/ from the finished folds (what a one-job cv writes at its end).
  @discardableResult
  public static func merge(runDir: String) throws -> Report {
    let manifest = try FoldManifest.read(runDir)
    var outcomes: [FoldOutcome] = []
    var missing: [Int] = []
    for f in 0..<manifest.k {
      if let o = try FoldOutcome.read(runDir, fold: f) { outcomes.append(o) } else { missing.append(f) }
    }
    if !missing.isEmpty {
      throw MMError(
        "\(runDir): fold(s) \(missing.map(String.init).joined(separator: ", ")) not finished (no fold-K/fold-result.json); "
          + "run them (mmtrain cv --config X --fold K, or mmtrain cv --resume \(runDir)), then merge again")
    }
    let settings = try FoldSettings.reconcile(manifest, outcomes, runDir: runDir)
    let config = try TrainConfig.parse(yaml: settings.config, source: FoldManifest.path(runDir))
    let classification = config.task.kind != .regression
    let width = outcomes[0].outputs.first?.count ?? 1
    let names = classification ? (manifest.classNames ?? (0..<width).map(String.init)) : nil
    let folds = outcomes.map(\.result)
    let report = Report(
      kind: .cv, title: RunReports.title(runDir: runDir, configFile: manifest.configFile),
      mmtrainVersion: MMTrainVersion.string, worldSize: outcomes.map(\.worldSize).max() ?? 1,
      task: .init(
        kind: config.task.kind.rawValue, outputs: width, classNames: names, modalities: config.data.modalities,
        mainMetric: config.report.metric.resolved(classification: classification)!),
      data: .init(
        path: manifest.data.path, samples: manifest.data.samples, sizeBytes: Int(manifest.data.sizeBytes),
        fingerprint: manifest.data.fingerprint),
      cv: .init(
        strategy: manifest.strategy.rawValue, k: manifest.k, shuffle: manifest.shuffle, seed: manifest.seed,
        parallelFolds: config.cv.parallelFolds),
      folds: folds, pooled: pooledMetrics(outcomes, kind: config.task.kind), ablation: ModalityAblation.collect(folds),
      timing: .init(totalSeconds: folds.map(\.seconds).reduce(0, +)),
      warnings: manifest.warnings + settings.warnings, config: settings.config)
    var rows: [Predictions.Row] = []
    for o in outcomes {
      for (i, r) in o.rows.enumerated() {
        rows.append(
          .init(
            index: r, step: o.steps?[i], group: manifest.groups?[r], fold: o.fold, label: o.labels[i],
            outputs: o.outputs[i]))
      }
    }
    rows.sort { ($0.index, $0.step ?? 0) < ($1.index, $1.step ?? 0) }
    let stepCount = outcomes.contains { $0.steps != nil } ? config.data.steps.values.max() : nil
    let predictions = Predictions(
      kind: classification ? .classification(classNames: names!) : .regression(columns: width), rows: rows,
      stepCount: stepCount)
    try ReportFiles.write(report, predictions: predictions, to: URL(fileURLWithPath: runDir + "/report"))
    return report
  }

  /// The metrics of every fold's test predictions together.
  static func pooledMetrics(_ outcomes: [FoldOutcome], kind: TaskKind) -> EvalMetrics {
    let all = RowOutputs(
      rows: outcomes.flatMap(\.rows), outputs: outcomes.flatMap(\.outputs), labels: outcomes.flatMap(\.labels))
    return Evaluator.metrics(all, kind: kind)
  }

  /// The console's summary table: every metric's mean ± std and 95% CI.
  public static func summaryLines(_ r: Report) -> [String] {
    var lines = [
      "summary over \(r.folds.count) folds (mean ± std, 95% CI, t distribution"
        + (r.pooled != nil ? "; pooled out-of-fold" : "") + "):"
    ]
    let width = max(10, r.summary.map(\.metric.count).max() ?? 10)
    for s in r.summary {
      let name = s.metric.padding(toLength: width, withPad: " ", startingAt: 0)
      let pooled = r.pooled.map { "  \(ReportFormat.value($0.scalar(s.metric)))" } ?? ""
      lines.append(
        "  \(name)  \(ReportFormat.meanStd(s).padding(toLength: 17, withPad: " ", startingAt: 0))  "
          + "\(ReportFormat.ci(s).padding(toLength: 18, withPad: " ", startingAt: 0))\(pooled)\(s.metric == r.task.mainMetric ? "  (main)" : "")"
      )
    }
    if let a = r.ablation {
      lines.append("modality ablation: drop of \(r.task.mainMetric) when masked (mean ± std):")
      for row in a {
        lines.append(
          "  \(row.modality.padding(toLength: width, withPad: " ", startingAt: 0))  \(ReportFormat.meanStd(row.summary))"
        )
      }
    }
    return lines
  }
}
