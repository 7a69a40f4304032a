import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMTraining

/// `mmtrain cv`: k-fold cross-validation on all ranks.
///
/// Rank 0 assigns the folds (MMEval.FoldAssigner, from /labels and /groups) and writes RUN_DIR/folds.json;
/// every rank reads the same manifest from a broadcast. Then each fold trains from scratch in
/// RUN_DIR/fold-K/ (normalisation from its training rows, inner validation split from its training rows),
/// its test rows are evaluated exactly, and fold-K/fold-result.json is written. With `cv.parallel_folds: G`
/// the world splits into G groups (Communicator.split) that train folds g, g+G, ... at the same time.
/// Finally world rank 0 merges the fold results into RUN_DIR/report/.
public final class CrossValidation {
  public let config: TrainConfig
  let comm: Communicator
  let progressMode: Console.Mode
  let console: Console
  /// The config file's name ("demo.yaml"), for the report's title; nil when resumed from the manifest.
  let configFile: String?
  var lock: RunLock?  // world rank 0: RUN_DIR, exclusive for a whole run, shared for a --fold job
  var runDir: String { config.checkpoint.dir }

  public init(config: TrainConfig, comm: Communicator, progress: Console.Mode, configFile: String? = nil) {
    self.config = config
    self.comm = comm
    self.progressMode = progress
    self.configFile = configFile.map { URL(fileURLWithPath: $0).lastPathComponent }
    console = Console(mode: .lines, speaks: comm.isRoot)
  }

  public enum Mode: Equatable {
    case fresh  // a new run: RUN_DIR must not hold one
    case resume  // continue: finished folds are skipped, a fold with a checkpoint continues exactly
    case fold(Int)  // one fold only (Slurm array jobs); the manifest is created or checked
  }

  /// Runs the folds of this mode. Returns the merged report on world rank 0 (nil for `.fold`, and on
  /// the other ranks).
  @discardableResult
  public func run(_ mode: Mode) throws -> Report? {
    let manifest = try agreedManifest(mode)
    if comm.isRoot { manifest.warnings.forEach(Console.warning) }
    let k = manifest.k
    var groups = config.cv.parallelFolds
    if case .fold(let f) = mode {
      try comm.agree {
        if f < 0 || f >= k {
          throw MMError("--fold \(f) is out of range: \(runDir) has folds 0...\(k - 1)", kind: .usage)
        }
      }
      groups = 1
    }
    try comm.agree {
      if comm.size % groups != 0 {
        throw MMError(
          "cv.parallel_folds = \(groups) does not divide the world size \(comm.size) (each fold needs an equal group of ranks); "
            + "use a divisor of \(comm.size) or start a multiple of \(groups) ranks", kind: .usage)
      }
    }
    try runFolds(manifest, mode: mode, groups: groups)
    if case .fold = mode { return nil }
    comm.barrier()
    let report = try comm.agree { () -> Report? in
      guard comm.isRoot else { return nil }
      let report = try CrossValidation.merge(runDir: runDir)
      for w in report.warnings where !manifest.warnings.contains(w) {
        Console.warning(w)
      }
      console.line("")
      for line in CrossValidation.summaryLines(report) { console.line(line) }
      console.line("report: \(runDir)/report/report.html (and report.md, report.json, predictions.csv)")
      return report
    }
    if config.cv.refit { try refit(manifest) }
    return report
  }

  /// Trains this rank's folds: all of them in turn, or (cv.parallel_folds = G) those of its group of ranks,
  /// the world split into G groups that train folds g, g+G, ... at the same time. A signal stops every group
  /// at its next step with a checkpoint, and all exit 75 together.
  func runFolds(_ manifest: FoldManifest, mode: Mode, groups: Int) throws {
    let k = manifest.k, groupSize = comm.size / groups
    let color = comm.rank / groupSize
    let group = groups > 1 ? comm.split(color: color, key: comm.rank) : comm
    let mine: [Int]
    if case .fold(let f) = mode { mine = [f] } else { mine = Array(stride(from: color, to: k, by: groups)) }
    if comm.isRoot {
      console.line(
        "cv: \(k) folds (\(manifest.strategy.rawValue)\(manifest.shuffle ? ", shuffled, seed \(manifest.seed)" : "")) of \(manifest.data.samples) samples"
          + (groups > 1 ? "; \(groups) groups of \(groupSize) rank(s) train folds in parallel" : "")
          + "; manifest \(FoldManifest.path(runDir))")
    }
    var stoppedHere: MMError? = nil
    do {
      for f in mine { try runFold(f, manifest: manifest, comm: group) }
    } catch let stopped as MMError where groups > 1 && stopped.kind == .stopped {
      stoppedHere = stopped  // the group's checkpoint is written; the other groups are told below
    } catch let e where groups > 1 {
      // A group cannot tell the others of an error mid-fold; report once per group and bring the world down.
      if group.isRoot { Console.error("fold group \(color): \(e)") }
      comm.abort(code: ExitStatus.failure)
    }
    if groups > 1 {
      group.finalize()
      // mpirun forwards the signal to every rank, so every group still training stops at its next step
      // with a checkpoint; groups already done wait here. Then all exit 75 together.
      if comm.allreduceMax(stoppedHere != nil ? 1 : 0) > 0 {
        if let stoppedHere, group.isRoot { Console.warning("fold group \(color): \(stoppedHere)") }
        var stopped = MMError("cv stopped by a signal; continue with mmtrain cv --resume \(runDir)", kind: .stopped)
        stopped.printsHere = comm.isRoot
        throw stopped
      }
    }
  }

  // MARK: - Refit

  /// `cv.refit`: one final model on every row, into RUN_DIR/final/ (as GridSearchCV's refit), trained for the
  /// folds' mean best epoch when early stopping chose the epochs, else for train.epochs; no validation split,
  /// so no early stopping. A stopped refit continues from its checkpoint on `cv --resume`.
  func refit(_ manifest: FoldManifest) throws {
    let dir = runDir + "/final"
    // Rank 0 reads the folds' best epochs; the rounded mean reaches every rank by one max-reduce.
    let epochs = comm.allreduceMax(
      try comm.agree { () -> Int in
        guard comm.isRoot else { return 0 }
        guard config.train.earlyStopping != nil else { return config.train.epochs }
        let best = try (0..<manifest.k).compactMap { try FoldOutcome.read(runDir, fold: $0)?.bestEpoch }
        guard !best.isEmpty else { return config.train.epochs }
        return max(1, Int((Double(best.reduce(0, +)) / Double(best.count)).rounded()))
      })
    var c = config
    c.checkpoint.dir = dir
    c.data.validationFraction = 0
    c.train.earlyStopping = nil
    c.train.epochs = epochs
    var options = TrainingSession.Options()
    options.progress = progressMode
    let run = RunDirectory(path: dir)
    let resumeFrom: String? = try comm.agree {
      run.checkpoints().isEmpty ? nil : try RunDirectory.resolveCheckpoint(dir)
    }
    if let resumeFrom { options.resume = try comm.agree { try Checkpoint.read(path: resumeFrom) } }
    let why = config.train.earlyStopping != nil ? "the folds' mean best epoch" : "train.epochs"
    console.line("refit: one model on all \(manifest.data.samples) samples for \(epochs) epochs (\(why)) -> \(dir)")
    try TrainLoop(try TrainingSession(config: c, comm: comm, options: options)).run()
    console.line("refit: done; the final model is \(dir)/latest")
  }

  // MARK: - Manifest

  /// Rank 0 makes (or reads and checks) the manifest; every rank gets it by broadcast.
  func agreedManifest(_ mode: Mode) throws -> FoldManifest {
    var bytes: [UInt8] = []
    try comm.agree {
      guard comm.isRoot else { return }
      let existing = FileManager.default.fileExists(atPath: FoldManifest.path(runDir))
      let manifest: FoldManifest
      switch mode {
      case .fresh:
        let refuse = MMError(
          "checkpoint.dir '\(runDir)' already holds a cv run (\(FoldManifest.path(runDir))): continue it with "
            + "mmtrain cv --resume \(runDir), or choose another checkpoint.dir", kind: .usage)
        if existing { throw refuse }
        manifest = try makeManifest()
        try RunDirectory(path: runDir).prepare()
        lock = try RunLock(directory: runDir)
        if FileManager.default.fileExists(atPath: FoldManifest.path(runDir)) { throw refuse }  // made meanwhile
        try ReportFiles.atomicWrite(try manifest.encoded(), to: URL(fileURLWithPath: FoldManifest.path(runDir)))
      case .resume:
        lock = try RunLock(directory: runDir)
        manifest = try FoldManifest.read(runDir)
        try checkConfig(manifest, how: "cv --resume \(runDir)")
        try checkData(manifest)
      case .fold(let f):
        try RunDirectory(path: runDir).prepare()
        lock = try RunLock(directory: runDir, mode: .shared)  // fold jobs side by side, each locks its fold-K
        if existing {
          manifest = try FoldManifest.read(runDir)
          let made = try makeManifest()
          guard made.spec == manifest.spec, made.folds == manifest.folds else {
            throw MMError(
              "\(FoldManifest.path(runDir)) holds other folds than this config gives (cv.folds \(manifest.k), "
                + "cv.strategy \(manifest.strategy.rawValue), cv.shuffle \(manifest.shuffle), cv.seed \(manifest.seed)); "
                + "use the run's config or another checkpoint.dir", kind: .usage)
          }
          try checkConfig(manifest, how: "cv --fold \(f)")
          try checkData(manifest)
        } else {
          manifest = try makeManifest()
          try ReportFiles.atomicWrite(try manifest.encoded(), to: URL(fileURLWithPath: FoldManifest.path(runDir)))
        }
      }
      bytes = Array(try manifest.encoded())
    }
    comm.broadcast(&bytes, root: 0)
    return try ReportFiles.decoder().decode(FoldManifest.self, from: Data(bytes))
  }

  /// The resume rule (ResumeRules): this job's config may not change a key that shaped the folds already
  /// trained (model, data, task, cv, train.seed).
  func checkConfig(_ manifest: FoldManifest, how: String) throws {
    let saved = try TrainConfig.parse(yaml: manifest.config, source: FoldManifest.path(runDir))
    _ = try ResumeRules.checkCV(manifest: saved, run: config, how: how, manifestPath: FoldManifest.path(runDir))
  }

  /// Reads /labels (stratified) and /groups, assigns the folds.
  func makeManifest() throws -> FoldManifest {
    let c = config
    let file = try HDF5File(path: c.data.path, mode: .readOnly)
    defer { file.close() }
    let schema = try DataSchema.read(file)
    let strategy = c.cv.strategy
    if strategy.needsClasses && c.task.kind == .regression {
      throw MMError(
        "cv.strategy: \(strategy.rawValue) keeps class shares, but task.kind is regression; use cv.strategy: "
          + (strategy == .stratified ? "kfold" : "group"), kind: .usage)
    }
    if strategy.needsGroups && !schema.hasGroups {
      throw MMError(
        "\(c.data.path): cv.strategy: \(strategy.rawValue) needs the dataset /groups (integer [N]: the subject, speaker or "
          + "session of each sample); add it, or use cv.strategy: \(strategy == .group ? "kfold" : "stratified")")
    }
    let groups = schema.hasGroups ? try file.readInt64s("/groups").map(Int.init) : nil
    let labels = strategy.needsClasses ? try file.readInt64s("/labels").map(Int.init) : nil
    var plan: FoldPlan
    do {
      plan = try FoldAssigner.assign(
        c.cv.spec, n: schema.count, labels: labels, groups: strategy.needsGroups ? groups : nil)
    } catch let e as MMError {
      throw MMError("\(c.data.path): \(e.message)", kind: e.kind)
    }
    let print = try DataFingerprint.of(path: c.data.path)
    return FoldManifest(
      strategy: strategy, k: c.cv.folds, shuffle: c.cv.shuffle, seed: c.cv.seed,
      data: .init(
        path: c.data.path, samples: schema.count, sizeBytes: print.size, mtime: print.mtime,
        schemaHash: print.schemaHash),
      classNames: schema.classNames, groups: groups, warnings: plan.warnings, config: c.yaml(), folds: plan.folds,
      configFile: configFile)
  }

  /// The data file must still be the one the folds were made for.
  func checkData(_ m: FoldManifest) throws {
    let now = try DataFingerprint.of(path: m.data.path)
    let then = DataFingerprint(size: m.data.sizeBytes, mtime: m.data.mtime, schemaHash: m.data.schemaHash)
    if now.size != then.size || now.schemaHash != then.schemaHash {
      throw MMError(
        "\(m.data.path) is not the file \(FoldManifest.path(runDir)) was made for (\(now.difference(from: then) ?? "changed")); "
          + "restore it, or start a new cv run in another checkpoint.dir")
    }
  }

  // MARK: - One fold

  func runFold(_ f: Int, manifest: FoldManifest, comm group: Communicator) throws {
    let console = Console(mode: .lines, speaks: group.isRoot)  // each group's rank 0 speaks for its folds
    if try FoldOutcome.read(runDir, fold: f) != nil {
      if group.isRoot { console.line("fold \(f): finished earlier (\(FoldOutcome.path(runDir, fold: f))); skipped") }
      return
    }
    let started = Date()
    let dir = "\(runDir)/fold-\(f)"
    var c = config
    c.checkpoint.dir = dir
    let run = RunDirectory(path: dir)
    var options = TrainingSession.Options()
    options.progress = progressMode
    options.trainingRows = manifest.folds[f].train
    options.checkpointAttributes = ["cv_manifest": manifest.foldAttribute(f)]
    options.split = CrossValidation.innerSplit(manifest.strategy)
    // A fold with checkpoints (stopped or crashed) continues exactly from its latest.
    let resumeFrom: String? = try group.agree {
      run.checkpoints().isEmpty ? nil : try RunDirectory.resolveCheckpoint(dir)
    }
    if let resumeFrom {
      options.resume = try group.agree { try Checkpoint.read(path: resumeFrom) }
      if group.isRoot { console.line("fold \(f): resuming from \(resumeFrom)") }
    }
    if group.isRoot {
      console.line(
        "fold \(f + 1)/\(manifest.k): \(manifest.folds[f].train.count) training rows, \(manifest.folds[f].test.count) test rows -> \(dir)"
      )
    }
    let session = try TrainingSession(config: c, comm: group, options: options)
    let loop = TrainLoop(session)
    try loop.run()
    let evaluator = Evaluator(session)
    let test = evaluator.predict(rows: manifest.folds[f].test)
    let metrics = evaluator.metrics(test)
    let main = config.report.metric.resolved(classification: config.task.kind != .regression)!
    var ablation: [ModalityScore]? = nil
    if config.report.ablation {
      ablation = session.modalityNames.enumerated().map { m, name in
        let masked = evaluator.metrics(evaluator.predict(rows: manifest.folds[f].test, masking: m)).scalar(main)
        return ModalityScore(
          modality: name, metric: masked,
          drop: EvalMetrics.drop(metric: main, full: metrics.scalar(main), masked: masked))
      }
    }
    let seconds = Date().timeIntervalSince(started)
    try group.agree {
      guard group.isRoot else { return }
      let curves = Curves.read(run.metricsPath)
      let best = loop.bestEpoch
      let result = FoldResult(
        fold: f, nTrain: session.split.trainRowCount, nValidation: session.split.validationRows.count,
        nTest: test.rows.count,
        metrics: metrics, curves: curves, epochs: curves.last?.epoch ?? config.train.epochs,
        seconds: seconds + (options.resume == nil ? 0 : previousSeconds(run)), ablation: ablation,
        bestEpoch: best, stoppedEarly: loop.stoppedEarly)
      let outcome = FoldOutcome(
        fold: f, worldSize: group.size, result: result, rows: test.rows, outputs: test.outputs, labels: test.labels,
        config: config.yaml(), bestEpoch: best)
      try ReportFiles.atomicWrite(
        try ReportFiles.encoder().encode(outcome), to: URL(fileURLWithPath: FoldOutcome.path(runDir, fold: f)))
      console.line(CrossValidation.foldLine(result, main: main, k: manifest.k))
    }
  }

  /// The inner validation split of a fold follows the fold strategy: group strategies hold out whole groups
  /// (the same subject is never in a fold's inner training and validation rows), stratified keeps class shares.
  static func innerSplit(_ strategy: FoldStrategy) -> SplitKind {
    switch strategy {
    case .kfold: return .random
    case .stratified: return .stratified
    case .group, .stratifiedGroup: return .group
    }
  }

  /// Training time before a resume: the last epoch's elapsed_s in metrics.jsonl.
  func previousSeconds(_ run: RunDirectory) -> Double {
    guard let text = try? String(contentsOfFile: run.metricsPath, encoding: .utf8) else { return 0 }
    return text.split(separator: "\n").compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["elapsed_s"] as? Double
    }.max() ?? 0
  }

  static func foldLine(_ r: FoldResult, main: String, k: Int) -> String {
    let shown =
      [main] + (r.metrics.classification != nil ? ["macro_f1", "roc_auc"] : ["rmse", "r2"]).filter { $0 != main }
    let values = shown.map { "\($0) \(ReportFormat.value(r.metrics.scalar($0)))" }.joined(separator: "  ")
    return "fold \(r.fold + 1)/\(k) done: \(values)  (test \(r.nTest), \(String(format: "%.1f", r.seconds))s)"
  }

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
          .init(index: r, group: manifest.groups?[r], fold: o.fold, label: o.labels[i], outputs: o.outputs[i]))
      }
    }
    rows.sort { $0.index < $1.index }
    let predictions = Predictions(
      kind: classification ? .classification(classNames: names!) : .regression(columns: width), rows: rows)
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
