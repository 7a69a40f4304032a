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
        steps: test.steps, config: config.yaml(), bestEpoch: best)
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

}
