import Foundation

/// Everything a run's report shows, as one plain value: `report.json` is this struct encoded (snake_case
/// keys), and `report.md` / `report.html` are rendered from it alone, so `mmtrain report RUN_DIR` can
/// re-render them from report.json. The schema is documented in the CrossValidationAndReports article.
public struct Report: Codable, Equatable, Sendable {
  public static let currentFormat = "mmtrain-report"
  /// 2 added diagnostics, source, ensemble and FoldResult's bestEpoch/stoppedEarly, all optional: version 1
  /// files decode unchanged.
  public static let currentVersion = 2

  public var format: String = Report.currentFormat
  public var formatVersion: Int = Report.currentVersion
  /// `cv` (k folds, test metrics), `train` (one run, validation metrics) or `evaluate` (a checkpoint on a file).
  public var kind: Kind
  public var title: String
  public var mmtrainVersion: String
  /// ISO 8601, UTC.
  public var created: String
  public var worldSize: Int
  public var task: TaskInfo
  public var data: DataInfo
  public var cv: CVInfo?
  public var folds: [FoldResult]
  /// Every scalar metric over the folds (mean, std, 95% CI), in a fixed order.
  public var summary: [MetricSummary]
  /// cv: the metrics of all out-of-fold predictions pooled into one set (each sample once, from the
  /// model that did not train on it), as papers that report "cross-validated predictions" do.
  public var pooled: EvalMetrics?
  public var ablation: [ModalityAblation]?
  public var timing: Timing
  public var warnings: [String]
  /// The resolved YAML configuration of the run.
  public var config: String
  /// Per-class ROC/PR curves, calibration, per-group scores, baselines and bootstrap intervals, computed
  /// from the predictions by `ReportFiles.write` (nil for reports written without predictions).
  public var diagnostics: Diagnostics?
  /// evaluate: the checkpoint and the data file that were evaluated.
  public var source: Source?
  /// evaluate of a cv run directory: every fold model's metrics; `folds` then holds the ensemble's result.
  public var ensemble: [EnsembleMember]?

  public enum Kind: String, Codable, Sendable { case cv, train, evaluate }

  public struct TaskInfo: Codable, Equatable, Sendable {
    /// binary | multiclass | regression
    public var kind: String
    /// classes (classification) or target columns (regression)
    public var outputs: Int
    public var classNames: [String]?
    public var modalities: [String]
    /// The metric of the bar chart and the ablation (e.g. accuracy, mae).
    public var mainMetric: String
    public init(kind: String, outputs: Int, classNames: [String]?, modalities: [String], mainMetric: String) {
      self.kind = kind
      self.outputs = outputs
      self.classNames = classNames
      self.modalities = modalities
      self.mainMetric = mainMetric
    }
    public var isClassification: Bool { kind != "regression" }
  }

  public struct DataInfo: Codable, Equatable, Sendable {
    public var path: String
    public var samples: Int
    public var sizeBytes: Int?
    public var fingerprint: String?
    public init(path: String, samples: Int, sizeBytes: Int? = nil, fingerprint: String? = nil) {
      self.path = path
      self.samples = samples
      self.sizeBytes = sizeBytes
      self.fingerprint = fingerprint
    }
  }

  /// The fold manifest's summary (the indices themselves are in RUN_DIR/folds.json).
  public struct CVInfo: Codable, Equatable, Sendable {
    public var strategy: String
    public var k: Int
    public var shuffle: Bool
    public var seed: UInt64
    public var parallelFolds: Int
    public init(strategy: String, k: Int, shuffle: Bool, seed: UInt64, parallelFolds: Int) {
      self.strategy = strategy
      self.k = k
      self.shuffle = shuffle
      self.seed = seed
      self.parallelFolds = parallelFolds
    }
  }

  public struct Source: Codable, Equatable, Sendable {
    public var checkpoint: String
    public var data: String
    public init(checkpoint: String, data: String) {
      self.checkpoint = checkpoint
      self.data = data
    }
  }

  public struct Timing: Codable, Equatable, Sendable {
    public var totalSeconds: Double
    public init(totalSeconds: Double) { self.totalSeconds = totalSeconds }
  }

  public init(
    kind: Kind, title: String, mmtrainVersion: String, created: Date = Date(), worldSize: Int, task: TaskInfo,
    data: DataInfo, cv: CVInfo?, folds: [FoldResult], pooled: EvalMetrics? = nil, ablation: [ModalityAblation]? = nil,
    timing: Timing,
    warnings: [String] = [], config: String, diagnostics: Diagnostics? = nil, source: Source? = nil,
    ensemble: [EnsembleMember]? = nil
  ) {
    self.kind = kind
    self.title = title
    self.mmtrainVersion = mmtrainVersion
    self.created = Report.timestamp(created)
    self.worldSize = worldSize
    self.task = task
    self.data = data
    self.cv = cv
    self.folds = folds
    self.summary = Report.summarise(folds)
    self.pooled = pooled
    self.ablation = ablation
    self.timing = timing
    self.warnings = warnings
    self.config = config
    self.diagnostics = diagnostics
    self.source = source
    self.ensemble = ensemble
  }

  /// train and evaluate: one result, shown with bootstrap intervals instead of fold statistics.
  public var isSingleRun: Bool { kind != .cv }

  /// Mean, std and CI of every scalar metric over the folds, in the metrics' own order.
  public static func summarise(_ folds: [FoldResult]) -> [MetricSummary] {
    guard let first = folds.first else { return [] }
    return first.metrics.scalars.map { name, _ in
      MetricSummary(metric: name, values: folds.map { $0.metrics.scalar(name) })
    }
  }

  public func summary(of metric: String) -> MetricSummary? { summary.first { $0.metric == metric } }

  static func timestamp(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.timeZone = TimeZone(identifier: "UTC")
    return f.string(from: date)
  }
}

/// One fold's (or one run's) result: sizes, test metrics, the training curves and the time it took.
public struct FoldResult: Codable, Equatable, Sendable {
  /// 0-based fold number (0 for a train or evaluate report).
  public var fold: Int
  public var nTrain: Int
  public var nValidation: Int
  public var nTest: Int
  public var metrics: EvalMetrics
  public var curves: [EpochPoint]
  public var epochs: Int
  public var seconds: Double
  /// The main metric with each modality masked out (zero features, length 0), when `report.ablation`.
  public var ablation: [ModalityScore]?
  /// The epoch whose weights were kept, numbered as `EpochPoint.epoch`, when known.
  public var bestEpoch: Int?
  /// Whether early stopping ended the run before its last configured epoch.
  public var stoppedEarly: Bool?

  public init(
    fold: Int, nTrain: Int, nValidation: Int, nTest: Int, metrics: EvalMetrics, curves: [EpochPoint], epochs: Int,
    seconds: Double, ablation: [ModalityScore]? = nil, bestEpoch: Int? = nil, stoppedEarly: Bool? = nil
  ) {
    self.bestEpoch = bestEpoch
    self.stoppedEarly = stoppedEarly
    self.fold = fold
    self.nTrain = nTrain
    self.nValidation = nValidation
    self.nTest = nTest
    self.metrics = metrics
    self.curves = curves
    self.epochs = epochs
    self.seconds = seconds
    self.ablation = ablation
  }
}

/// One model of an evaluated ensemble (a fold model of a cv run) and its metrics on the same data.
public struct EnsembleMember: Codable, Equatable, Sendable {
  /// e.g. "fold-0"
  public var name: String
  public var checkpoint: String
  public var metrics: EvalMetrics
  public init(name: String, checkpoint: String, metrics: EvalMetrics) {
    self.name = name
    self.checkpoint = checkpoint
    self.metrics = metrics
  }
}

/// One epoch of a training curve (the fields of metrics.jsonl).
public struct EpochPoint: Codable, Equatable, Sendable {
  public var epoch: Int
  public var trainLoss: Double?
  public var trainAccuracy: Double?
  public var valLoss: Double?
  public var valAccuracy: Double?
  public init(epoch: Int, trainLoss: Double?, trainAccuracy: Double?, valLoss: Double?, valAccuracy: Double?) {
    self.epoch = epoch
    self.trainLoss = trainLoss
    self.trainAccuracy = trainAccuracy
    self.valLoss = valLoss
    self.valAccuracy = valAccuracy
  }
}

/// A fold's main metric with one modality masked, and the drop from the unmasked model (positive = the
/// model got worse without it, whichever direction the metric runs).
public struct ModalityScore: Codable, Equatable, Sendable {
  public var modality: String
  public var metric: Double?
  public var drop: Double?
  public init(modality: String, metric: Double?, drop: Double?) {
    self.modality = modality
    self.metric = metric
    self.drop = drop
  }
}

/// A modality's importance over the folds: its drops per fold and their summary.
public struct ModalityAblation: Codable, Equatable, Sendable {
  public var modality: String
  public var drops: [Double?]
  public var summary: MetricSummary

  public init(modality: String, drops: [Double?]) {
    self.modality = modality
    self.drops = drops
    self.summary = MetricSummary(metric: "drop", values: drops)
  }

  /// Collects the folds' per-modality scores into one row per modality (in the folds' order).
  public static func collect(_ folds: [FoldResult]) -> [ModalityAblation]? {
    guard let first = folds.first?.ablation else { return nil }
    return first.map { score in
      ModalityAblation(
        modality: score.modality,
        drops: folds.map { fold in fold.ablation?.first { $0.modality == score.modality }?.drop })
    }
  }
}

/// The metrics of one evaluation: classification or regression.
public struct EvalMetrics: Codable, Equatable, Sendable {
  public var classification: ClassificationMetrics?
  public var regression: RegressionMetrics?

  public init(classification: ClassificationMetrics) {
    self.classification = classification
    self.regression = nil
  }
  public init(regression: RegressionMetrics) {
    self.classification = nil
    self.regression = regression
  }

  public var n: Int { classification?.n ?? regression?.n ?? 0 }

  /// Every scalar metric by its report name (the JSON key), in display order.
  public var scalars: [(name: String, value: Double?)] {
    if let c = classification {
      return [
        ("accuracy", c.accuracy), ("balanced_accuracy", c.balancedAccuracy), ("macro_precision", c.macroPrecision),
        ("macro_recall", c.macroRecall), ("macro_f1", c.macroF1), ("weighted_precision", c.weightedPrecision),
        ("weighted_recall", c.weightedRecall), ("weighted_f1", c.weightedF1), ("roc_auc", c.rocAuc),
        ("log_loss", c.logLoss),
      ]
    }
    if let r = regression {
      var out: [(String, Double?)] = [
        ("mse", r.mse), ("rmse", r.rmse), ("mae", r.mae), ("r2", r.r2), ("pearson", r.pearson),
      ]
      if let s = r.sentiment {
        out += [
          ("acc2_has0", s.acc2Has0), ("f1_has0", s.f1Has0), ("acc2_non0", s.acc2Non0), ("f1_non0", s.f1Non0),
          ("acc7", s.acc7),
        ]
      }
      return out
    }
    return []
  }

  public func scalar(_ name: String) -> Double? { scalars.first { $0.name == name }?.value ?? nil }

  /// Metrics where lower is better (the ablation's drop is signed so that positive always means worse).
  public static let lowerIsBetter: Set<String> = ["mse", "rmse", "mae", "log_loss"]

  /// The default main metric: accuracy for classification, MAE for regression (what MOSI/MOSEI papers lead with).
  public static func defaultMainMetric(classification: Bool) -> String { classification ? "accuracy" : "mae" }

  /// Worse-by amount: full − masked for higher-is-better metrics, masked − full otherwise.
  public static func drop(metric: String, full: Double?, masked: Double?) -> Double? {
    guard let full, let masked else { return nil }
    return lowerIsBetter.contains(metric) ? masked - full : full - masked
  }

  public static var classificationNames: [String] {
    [
      "accuracy", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision",
      "weighted_recall", "weighted_f1", "roc_auc", "log_loss",
    ]
  }
  public static var regressionNames: [String] {
    ["mse", "rmse", "mae", "r2", "pearson", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7"]
  }
}

/// `report.metric`: the report's main metric (bar chart, ablation), or `auto`.
public enum ReportMetric: String, CaseIterable, Codable, Sendable {
  case auto
  case accuracy, balancedAccuracy = "balanced_accuracy", macroF1 = "macro_f1", weightedF1 = "weighted_f1"
  case rocAuc = "roc_auc", logLoss = "log_loss"
  case mse, rmse, mae, r2, pearson
  case acc2Has0 = "acc2_has0", f1Has0 = "f1_has0", acc2Non0 = "acc2_non0", f1Non0 = "f1_non0", acc7

  /// The metric's report name for a task, or nil when it does not fit the task.
  public func resolved(classification: Bool) -> String? {
    if self == .auto { return EvalMetrics.defaultMainMetric(classification: classification) }
    let names = classification ? EvalMetrics.classificationNames : EvalMetrics.regressionNames
    return names.contains(rawValue) ? rawValue : nil
  }
}
