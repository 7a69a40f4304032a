import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMEval
import MMHDF5

/// The reports of `mmtrain train` (validation metrics and curves of the run) and `mmtrain evaluate`
/// (a checkpoint on a data file), built from a trainer's exact predictions.
public enum RunReports {
  /// Collective: the validation split's predictions are gathered on every rank; rank 0 writes
  /// RUN_DIR/report/. Returns nil when the run has no validation split.
  @discardableResult
  public static func writeTrainReport(_ loop: TrainLoop, seconds: Double, configFile: String? = nil) throws -> Report? {
    let t = loop.session, evaluator = Evaluator(t)
    guard !t.split.validationRows.isEmpty else { return nil }
    let out = evaluator.predict(rows: t.split.validationRows)
    let metrics = evaluator.metrics(out)
    let curves = Curves.read(t.config.checkpoint.dir + "/metrics.jsonl")
    let result = FoldResult(
      fold: 0, nTrain: t.split.trainRowCount, nValidation: out.rows.count, nTest: out.rows.count, metrics: metrics,
      curves: curves, epochs: curves.last?.epoch ?? t.config.train.epochs, seconds: seconds,
      bestEpoch: loop.bestEpoch, stoppedEarly: loop.stoppedEarly)
    let report = make(
      t, kind: .train, title: title(runDir: t.config.checkpoint.dir, configFile: configFile), result: result,
      seconds: seconds)
    try t.comm.agree {
      guard t.comm.isRoot else { return }
      try ReportFiles.write(
        report, predictions: predictions(t, out, fold: nil),
        to: URL(fileURLWithPath: t.config.checkpoint.dir + "/report"))
    }
    return report
  }

  /// Collective: the report of `models` scored on every row of `data` (`r`, from InferenceModels.run). Rank 0
  /// writes it into `dir`.
  public static func evaluate(
    _ r: InferenceResult, models: InferenceModels, data: String, seconds: Double, into dir: String
  ) throws -> Report {
    let t = r.session
    let result = FoldResult(
      fold: 0, nTrain: 0, nValidation: 0, nTest: r.outputs.rows.count, metrics: Evaluator(t).metrics(r.outputs),
      curves: [], epochs: 0,
      seconds: seconds)
    let name = models.cvRunDir.map { title(runDir: $0, configFile: nil) + " (ensemble)" } ?? models.members[0].name
    var report = make(
      t, kind: .evaluate, title: "\(name) on \(URL(fileURLWithPath: data).lastPathComponent)", result: result,
      seconds: seconds)
    report.source = Report.Source(checkpoint: models.cvRunDir ?? models.members[0].path, data: data)
    if models.isEnsemble {
      report.ensemble = r.memberMetrics.map { EnsembleMember(name: $0.name, checkpoint: $0.path, metrics: $0.metrics) }
    }
    try t.comm.agree {
      guard t.comm.isRoot else { return }
      try ReportFiles.write(report, predictions: predictions(t, r.outputs, fold: nil), to: URL(fileURLWithPath: dir))
    }
    return report
  }

  /// A report's title: the run directory's name, and the config file it was started with
  /// ("demo (demo.yaml)"), not an absolute path.
  public static func title(runDir: String, configFile: String?) -> String {
    let name = URL(fileURLWithPath: runDir).standardized.lastPathComponent
    return configFile.map { "\(name) (\(URL(fileURLWithPath: $0).lastPathComponent))" } ?? name
  }

  static func make(_ t: TrainingSession, kind: Report.Kind, title: String, result: FoldResult, seconds: Double)
    -> Report
  {
    let c = t.config
    let classification = c.task.kind != .regression
    let fingerprint = try? DataFingerprint.of(path: c.data.path)
    return Report(
      kind: kind, title: title, mmtrainVersion: MMTrainVersion.string, worldSize: t.comm.size,
      task: .init(
        kind: c.task.kind.rawValue,
        outputs: classification ? (c.task.kind == .binary ? 2 : t.model.outputs) : t.model.outputs,
        classNames: classification ? classNames(t) : nil, modalities: t.modalityNames,
        mainMetric: c.report.metric.resolved(classification: classification)!),
      data: .init(
        path: c.data.path, samples: t.schema.count, sizeBytes: fingerprint.map { Int($0.size) },
        fingerprint: fingerprint.map { "\($0.size)-\($0.schemaHash)" }),
      cv: nil, folds: [result], timing: .init(totalSeconds: seconds), config: c.yaml())
  }

  /// Inference: the names the checkpoint recorded, whatever the data file holds; training: the file's.
  static func classNames(_ t: TrainingSession) -> [String] {
    let C = t.config.task.kind == .binary ? 2 : t.model.outputs
    if t.options.inference, let saved = t.options.initFrom?.provenance?.classNames, saved.count == C { return saved }
    return InputChecks.classNames(t.schema.classNames, classes: C, t.config.task.kind)
  }

  /// predictions.csv rows (with /groups when the file has it; no label column values without /labels).
  public static func predictions(_ t: TrainingSession, _ out: RowOutputs, fold: Int?) -> Predictions {
    let groups = t.groups
    let rows = out.rows.enumerated().map { i, r in
      Predictions.Row(
        index: r, step: out.steps?[i], group: groups?[r], fold: fold, label: t.schema.hasLabels ? out.labels[i] : nil,
        outputs: out.outputs[i])
    }
    let kind: Predictions.Kind =
      t.config.task.kind == .regression
      ? .regression(columns: t.model.outputs) : .classification(classNames: classNames(t))
    return Predictions(kind: kind, rows: rows, stepCount: out.steps != nil ? t.model.spec.rowsPerSample : nil)
  }
}

extension TrainingSession {
  /// The file's /groups (read on demand, rank 0 uses it for predictions.csv).
  var groups: [Int]? {
    guard schema.hasGroups, let file = try? HDF5File(path: config.data.path, mode: .readOnly) else { return nil }
    defer { file.close() }
    return (try? file.readInt64s("/groups"))?.map(Int.init)
  }
}
