import Foundation

/// What the per-sample predictions show beyond the fold metrics: per-class ROC and PR curves, a
/// reliability diagram, the main metric per group (subject), the chance/majority/mean baselines and,
/// for a single run, bootstrap intervals. Stored in report.json, so re-rendering needs no predictions.
/// For cv the predictions are the pooled out-of-fold ones (each sample once).
public struct Diagnostics: Codable, Equatable, Sendable {
  /// labelled prediction rows these were computed from
  public var n: Int
  /// binary: the positive class (1) only; multiclass: every class, one-vs-rest
  public var classCurves: [ClassCurves]?
  public var calibration: Calibration?
  public var groups: GroupScores?
  public var baselines: [Baseline]
  /// train and evaluate: every scalar metric with its percentile-bootstrap 95% interval
  public var bootstrap: [MetricInterval]?
  /// Per-step predictions: the samples whose steps the bootstrap drew together (nil: rows drawn one by one).
  public var bootstrapSamples: Int? = nil

  public init(
    n: Int, classCurves: [ClassCurves]?, calibration: Calibration?, groups: GroupScores?, baselines: [Baseline],
    bootstrap: [MetricInterval]?
  ) {
    self.n = n
    self.classCurves = classCurves
    self.calibration = calibration
    self.groups = groups
    self.baselines = baselines
    self.bootstrap = bootstrap
  }

  public func interval(of metric: String) -> MetricInterval? { bootstrap?.first { $0.metric == metric } }

  /// nil when no prediction row has a label (nothing to score).
  public static func compute(predictions: Predictions, task: Report.TaskInfo, kind: Report.Kind) -> Diagnostics? {
    let rows = predictions.rows.filter { $0.label != nil }
    guard !rows.isEmpty else { return nil }
    let scored = ScoredRows(rows, classification: task.isClassification)
    let classes = task.isClassification ? rows[0].outputs.count : 0
    let names = (0..<classes).map { c in task.classNames.flatMap { c < $0.count ? $0[c] : nil } ?? "\(c)" }
    var curves: [ClassCurves]?
    var calibration: Calibration?
    if task.isClassification {
      curves = (classes == 2 ? [1] : Array(0..<classes)).map { c in
        ClassCurves(classIndex: c, name: names[c], labels: scored.labels, scores: scored.outputs.map { $0[c] })
      }
      calibration = Calibration(labels: scored.labels, probabilities: scored.outputs)
    }
    // per-step predictions: a sample's steps are resampled together
    var clusters: [[Int]]? = nil
    if predictions.stepCount != nil {
      var bySample: [Int: [Int]] = [:]
      for (i, r) in rows.enumerated() { bySample[r.index, default: []].append(i) }
      clusters = bySample.keys.sorted().map { bySample[$0]! }
    }
    let bootstrap = kind == .cv ? nil : Bootstrap.intervals(n: rows.count, clusters: clusters) { scored.metrics($0) }
    var d = Diagnostics(
      n: rows.count, classCurves: curves, calibration: calibration,
      groups: GroupScores(rows, scored: scored, metric: task.mainMetric),
      baselines: Baseline.compute(scored, classNames: task.isClassification ? names : nil),
      bootstrap: bootstrap)
    d.bootstrapSamples = clusters?.count
    return d
  }
}

/// One class against the rest: its ROC and PR curves (thinned for drawing) and their areas on all points.
public struct ClassCurves: Codable, Equatable, Sendable {
  public var classIndex: Int
  public var name: String
  /// sklearn's roc_auc_score of this class's probability (nil without positives or negatives)
  public var auc: Double?
  /// sklearn's average_precision_score (nil without positives)
  public var averagePrecision: Double?
  public var positives: Int
  public var roc: ROCCurve?
  public var pr: PRCurve?

  init(classIndex: Int, name: String, labels: [Int], scores: [Double]) {
    let positive = labels.map { $0 == classIndex }
    self.classIndex = classIndex
    self.name = name
    self.positives = positive.filter { $0 }.count
    auc = ROCCurve.auc(positive: positive, scores: scores)
    if let (fpr, tpr) = ROCCurve.points(positive: positive, scores: scores) {
      let thin = thinCurve(fpr, tpr)
      roc = ROCCurve(fpr: thin.x, tpr: thin.y)
    }
    if let full = PRCurve(positive: positive, scores: scores) {
      averagePrecision = full.averagePrecision
      let thin = thinCurve(full.recall, full.precision)
      pr = PRCurve(recall: thin.x, precision: thin.y)
    }
  }
}

/// The main metric per group id (subject), sorted by group, and its mean ± std over the groups.
public struct GroupScores: Codable, Equatable, Sendable {
  public var metric: String
  public var rows: [GroupScore]
  public var summary: MetricSummary

  /// nil when no row carries a group.
  init?(_ rows: [Predictions.Row], scored: ScoredRows, metric: String) {
    var byGroup: [Int: [Int]] = [:]
    for (i, r) in rows.enumerated() { if let g = r.group { byGroup[g, default: []].append(i) } }
    guard !byGroup.isEmpty else { return nil }
    self.metric = metric
    self.rows = byGroup.keys.sorted().map { g in
      GroupScore(group: g, n: byGroup[g]!.count, value: scored.metrics(byGroup[g]!).scalar(metric))
    }
    summary = MetricSummary(metric: metric, values: self.rows.map(\.value))
  }
}

public struct GroupScore: Codable, Equatable, Sendable {
  public var group: Int
  public var n: Int
  public var value: Double?
}

/// A score the model should beat, in the units of one metric.
public struct Baseline: Codable, Equatable, Sendable {
  /// `chance` (uniform guess), `majority` (always the most frequent label) or `mean` (always the mean label)
  public var name: String
  public var metric: String
  public var value: Double
  public var note: String

  public init(name: String, metric: String, value: Double, note: String) {
    self.name = name
    self.metric = metric
    self.value = value
    self.note = note
  }

  /// Classification (`classNames` given): chance and majority accuracy. Regression: MSE, RMSE and MAE of
  /// predicting the mean label of these rows.
  static func compute(_ scored: ScoredRows, classNames: [String]?) -> [Baseline] {
    if let classNames {
      let classes = classNames.count
      var count = [Int](repeating: 0, count: classes)
      for y in scored.labels where y < classes { count[y] += 1 }
      let top = argmax(count.map(Double.init))
      return [
        Baseline(
          name: "chance", metric: "accuracy", value: 1 / Double(classes), note: "uniform guess of \(classes) classes"),
        Baseline(
          name: "majority", metric: "accuracy", value: Double(count[top]) / Double(scored.labels.count),
          note: "always \(classNames[top])"),
      ]
    }
    let k = scored.targets[0].count
    let n = Double(scored.targets.count)
    let mean = (0..<k).map { j in scored.targets.map { $0[j] }.reduce(0, +) / n }
    let m = RegressionMetrics(targets: scored.targets, predictions: scored.targets.map { _ in mean })
    let note = "always the mean label"
    return [
      Baseline(name: "mean", metric: "mse", value: m.mse, note: note),
      Baseline(name: "mean", metric: "rmse", value: m.rmse, note: note),
      Baseline(name: "mean", metric: "mae", value: m.mae, note: note),
    ]
  }
}

/// Labelled prediction rows as the metrics take them, scored for any subset (a group, a resample).
struct ScoredRows {
  let classification: Bool
  let labels: [Int]
  let targets: [[Double]]
  let outputs: [[Double]]

  init(_ rows: [Predictions.Row], classification: Bool) {
    self.classification = classification
    targets = rows.map { $0.label! }
    labels = classification ? targets.map { Int($0[0]) } : []
    outputs = rows.map(\.outputs)
  }

  func metrics(_ indices: [Int]) -> EvalMetrics {
    if classification {
      return EvalMetrics(
        classification: ClassificationMetrics(
          labels: indices.map { labels[$0] }, probabilities: indices.map { outputs[$0] }))
    }
    return EvalMetrics(
      regression: RegressionMetrics(
        targets: indices.map { targets[$0] }, predictions: indices.map { outputs[$0] }))
  }
}
