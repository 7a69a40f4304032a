import ArgumentParser
import Foundation
import MMCheckpoint
import MMCore
import MMCrossValidation
import MMConfig
import MMData
import MMDistributed
import MMEval
import MMHDF5
import MMTraining

struct CV: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cv",
    abstract:
      "k-fold cross-validation: rank 0 assigns the folds, every fold trains and is tested exactly; writes RUN_DIR/report/.",
    discussion: """
      mpirun -n 8 mmtrain cv --config my.yaml          all folds (cv.parallel_folds of them at a time)
      mmtrain cv --config my.yaml --fold 3             fold 3 only (e.g. one Slurm array task per fold)
      mmtrain cv --merge RUN_DIR                        the report from the finished folds
      mpirun -n 8 mmtrain cv --resume RUN_DIR           continue: finished folds are skipped, a stopped one continues
      """)

  @Option(name: .long, help: "YAML config with a cv: section (checkpoint.dir is the run directory RUN_DIR).")
  var config: String?

  @Option(name: .customLong("set"), help: "Override a config key, e.g. --set cv.folds=10 (repeatable).")
  var overrides: [String] = []

  @Option(name: .long, help: "Train and test only this fold (0-based), into RUN_DIR/fold-K/.")
  var fold: Int?

  @Option(name: .long, help: "Continue the cv run in this RUN_DIR (its folds.json and config).")
  var resume: String?

  @Option(name: .long, help: "Build RUN_DIR/report/ from the finished folds of this RUN_DIR.")
  var merge: String?

  @Option(name: .long, help: "Console output on rank 0: auto (bar on a terminal), bar, lines.")
  var progress: Console.Mode = .auto

  func validate() throws {
    let given = [config != nil, resume != nil, merge != nil].filter { $0 }.count
    if given != 1 { throw ValidationError("give exactly one of --config FILE, --resume RUN_DIR or --merge RUN_DIR") }
    if fold != nil && config == nil { throw ValidationError("--fold K needs --config FILE (the run's config)") }
    if merge != nil && !overrides.isEmpty {
      throw ValidationError("--merge takes no --set (the run's config is in RUN_DIR/folds.json)")
    }
  }

  func run() throws {
    HDF5.silenceErrorStack()
    var cfg: TrainConfig? = nil
    var early: Error? = nil
    do {
      if let config {
        cfg = try TrainConfig.load(path: config, overrides: overrides).resolvingPaths()
      } else if let resume {
        // The manifest's config with --set on top; CrossValidation holds it to the resume rule.
        let manifest = try FoldManifest.read(resume)
        cfg = try TrainConfig.parse(
          yaml: manifest.config, source: FoldManifest.path(resume),
          overrides: overrides + ["checkpoint.dir=\(YAMLQuote.quote(resume))"]
        ).resolvingPaths()
      }
    } catch {
      early = error
    }
    try runOnRanks(early: early) { comm, _ in
      if let merge {
        let report = try comm.agree { comm.isRoot ? try CrossValidation.merge(runDir: merge) : nil }
        if let report {
          for w in report.warnings { Console.warning(w) }
          CrossValidation.summaryLines(report).forEach { print($0) }
          print("report: \(merge)/report/report.html (and report.md, report.json, predictions.csv)")
        }
        return
      }
      let cv = CrossValidation(config: cfg!, comm: comm, progress: progress, configFile: config)
      try cv.run(fold.map { .fold($0) } ?? (resume != nil ? .resume : .fresh))
    }
  }
}

/// A path as a YAML scalar for --set (quoted, so ':' or '#' in it stay text).
enum YAMLQuote {
  static func quote(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }
}

/// What evaluate and predict share: a checkpoint (or a cv run's fold models) and a data file.
struct CheckpointOnData: ParsableArguments {
  @Option(
    name: .long,
    help:
      "Checkpoint file, a run directory (its latest checkpoint), or a cv run directory (the ensemble of its fold models)."
  )
  var checkpoint: String

  @Option(name: .long, help: "HDF5 data file (same modalities and feature counts as the training data).")
  var data: String

  @Option(
    name: .long,
    help: "NaN features in the data: zero or mean (the training mean), instead of the checkpoint's data.missing.")
  var missing: Missing?

  @Flag(
    name: .long,
    help:
      "Refuse, instead of warning, data that would silently change the result (e.g. no /lengths for a model trained with them)."
  )
  var strict = false

  enum Missing: String, ExpressibleByArgument, CaseIterable { case zero, mean }

  /// The models, their configs pointed at `data`, and the warnings the data earns (InputChecks); throws for
  /// data they cannot score. Runs before MPI starts.
  func load(labelsOptional: Bool) throws -> (InferenceModels, [String]) {
    var overrides = ["data.path=\(YAMLQuote.quote(data))"]
    if let missing { overrides.append("data.missing=\(missing.rawValue)") }
    let models = try InferenceModels.load(checkpoint, overrides: overrides)
    // The fold models of a cv run share task, classes and inputs: the first speaks for all.
    let first = models.members[0]
    let warnings = try InputChecks.check(
      checkpoint: first.checkpoint, config: first.config, data: data, needsLabels: !labelsOptional, strict: strict)
    return (models, warnings)
  }

  /// Loads before MPI; an error becomes the early error every rank agrees on.
  func loadOrEarly(labelsOptional: Bool) -> (InferenceModels?, Error?) {
    do {
      let (models, warnings) = try load(labelsOptional: labelsOptional)
      if Console.launcherSpeaks { warnings.forEach(Console.warning) }
      return (models, nil)
    } catch {
      return (nil, error)
    }
  }
}

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Metrics of a trained model (or of a cv run's fold models and their ensemble) on a data file with /labels, "
      + "using the checkpoint's normalisation; same output on any number of ranks.")

  @OptionGroup var input: CheckpointOnData

  @Option(
    name: .long,
    help: "Folder for report.json/md/html and predictions.csv (default: DIR_OF_CHECKPOINT/evaluate-DATASTEM).")
  var out: String?

  func validate() throws {
    var isDirectory: ObjCBool = false
    if let out, FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), !isDirectory.boolValue {
      throw ValidationError(
        "--out \(out) is a file; evaluate writes a folder (report.json, report.md, report.html, predictions.csv)")
    }
  }

  func run() throws {
    HDF5.silenceErrorStack()
    let (models, early) = input.loadOrEarly(labelsOptional: false)
    let dir = out ?? defaultFolder(models)
    try runOnRanks(early: early) { comm, _ in
      guard let models else { preconditionFailure("agreed: loaded") }
      let started = Date()
      let result = try models.run(comm: comm, labelsOptional: false)
      let report = try RunReports.evaluate(
        result, models: models, data: input.data, seconds: Date().timeIntervalSince(started), into: dir)
      guard comm.isRoot else { return }
      print("evaluate: \(models.description) on \(input.data): \(report.data.samples) samples")
      for member in result.memberMetrics {
        let main = report.task.mainMetric
        print(
          "  \(member.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(main) \(ReportFormat.value(member.metrics.scalar(main)))"
        )
      }
      if models.isEnsemble {
        print("ensemble (mean of \(report.task.isClassification ? "probabilities" : "predictions")):")
      }
      for s in report.summary {
        print("  \(s.metric.padding(toLength: 18, withPad: " ", startingAt: 0)) \(ReportFormat.value(s.mean))")
      }
      print("report: \(dir)/report.html (and report.md, report.json, predictions.csv)")
    }
  }

  /// Beside the checkpoint (inside a cv run directory for its ensemble): evaluate-DATASTEM.
  func defaultFolder(_ models: InferenceModels?) -> String {
    let stem = "evaluate-" + URL(fileURLWithPath: input.data).deletingPathExtension().lastPathComponent
    if let runDir = models?.cvRunDir { return runDir + "/" + stem }
    let checkpoint = models?.members.first?.path ?? input.checkpoint
    return URL(fileURLWithPath: checkpoint).deletingLastPathComponent().appendingPathComponent(stem).path
  }
}

struct Predict: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Per-sample predictions of a trained model, or of a cv run's fold-model ensemble (the data needs no "
      + "/labels); same output on any number of ranks.")

  @OptionGroup var input: CheckpointOnData

  @Option(name: .long, help: "Output file: .csv (index, group, fold, label, prediction, probabilities) or .h5.")
  var out: String

  func validate() throws {
    if !(out.hasSuffix(".csv") || out.hasSuffix(".h5") || out.hasSuffix(".hdf5")) {
      throw ValidationError("--out must end in .csv or .h5, got '\(out)'")
    }
    do { try OutputFile.check(out, option: "--out") } catch { throw ValidationError("\(error)") }
  }

  func run() throws {
    HDF5.silenceErrorStack()
    let (models, early) = input.loadOrEarly(labelsOptional: true)
    try runOnRanks(early: early) { comm, _ in
      guard let models else { preconditionFailure("agreed: loaded") }
      let result = try models.run(comm: comm, labelsOptional: true)
      let predictions = RunReports.predictions(result.session, result.outputs, fold: nil)
      try comm.agree {
        guard comm.isRoot else { return }
        if out.hasSuffix(".csv") {
          try OutputFile.write(Data(predictions.csv().utf8), to: out, option: "--out")
        } else {
          try PredictionsHDF5.write(predictions, to: out)
        }
        print(
          "predict: \(result.outputs.rows.count) samples -> \(out)"
            + (models.isEnsemble ? " (ensemble of \(models.members.count) fold models, mean of outputs)" : ""))
      }
    }
  }
}

/// predict's .h5 output: /index [N]; classification: /prediction [N] (class id) and /probabilities [N, C]
/// (attribute class_names); regression: /prediction [N, K]; /groups [N] when the data has it. Per-step targets:
/// [N, T] and [N, T, C] (writeSteps).
enum PredictionsHDF5 {
  static func write(_ p: Predictions, to path: String) throws {
    try OutputFile.replace(path, option: "--out") { tmp in try write(p, temporary: tmp) }
  }

  static func write(_ p: Predictions, temporary tmp: String) throws {
    if let T = p.stepCount { return try writeSteps(p, steps: T, temporary: tmp) }
    let file = try HDF5File(path: tmp, mode: .truncate)
    let n = p.rows.count
    try file.writeInt64s("/index", p.rows.map { Int64($0.index) }, shape: [n])
    switch p.kind {
    case .classification(let names):
      try file.writeInt64s(
        "/prediction", p.rows.map { row in Int64(row.outputs.indices.max { row.outputs[$0] < row.outputs[$1] }!) },
        shape: [n])
      try file.writeDoubles("/probabilities", p.rows.flatMap(\.outputs), shape: [n, names.count])
      try file.setAttribute("class_names", on: "/probabilities", strings: names)
    case .regression(let k):
      try file.writeDoubles("/prediction", p.rows.flatMap(\.outputs), shape: [n, k])
    }
    if p.rows.allSatisfy({ $0.group != nil }) {
      try file.writeInt64s("/groups", p.rows.map { Int64($0.group!) }, shape: [n])
    }
    try file.flush()
    file.close()
  }
}

extension PredictionsHDF5 {
  /// Per-step targets: /index [N] and /lengths [N] (valid steps); classification: /prediction [N, T] (class id,
  /// -1 past a sample's length) and /probabilities [N, T, C]; regression: /prediction [N, T, K]; values past a
  /// sample's length are NaN. /groups [N] when the data has it.
  static func writeSteps(_ p: Predictions, steps T: Int, temporary tmp: String) throws {
    var samples: [Int] = [], first: [Int: Int] = [:], groups: [Int?] = []
    for r in p.rows where first[r.index] == nil {
      first[r.index] = samples.count; samples.append(r.index); groups.append(r.group)
    }
    let n = samples.count
    let C: Int
    switch p.kind {
    case .classification(let names): C = names.count
    case .regression(let k): C = k
    }
    var lengths = [Int64](repeating: 0, count: n), ids = [Int64](repeating: -1, count: n * T)
    var values = [Double](repeating: .nan, count: n * T * C)
    for r in p.rows {
      let i = first[r.index]!, t = r.step ?? 0
      lengths[i] = max(lengths[i], Int64(t + 1))
      ids[i * T + t] = Int64(r.outputs.indices.max { r.outputs[$0] < r.outputs[$1] }!)
      for k in 0..<C { values[(i * T + t) * C + k] = r.outputs[k] }
    }
    let file = try HDF5File(path: tmp, mode: .truncate)
    try file.writeInt64s("/index", samples.map(Int64.init), shape: [n])
    try file.writeInt64s("/lengths", lengths, shape: [n])
    switch p.kind {
    case .classification(let names):
      try file.writeInt64s("/prediction", ids, shape: [n, T])
      try file.writeDoubles("/probabilities", values, shape: [n, T, C])
      try file.setAttribute("class_names", on: "/probabilities", strings: names)
    case .regression:
      try file.writeDoubles("/prediction", values, shape: [n, T, C])
    }
    if groups.allSatisfy({ $0 != nil }) { try file.writeInt64s("/groups", groups.map { Int64($0!) }, shape: [n]) }
    try file.flush()
    file.close()
  }
}

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Re-render RUN_DIR/report/report.md and report.html from report.json.")

  @Argument(
    help: "A run directory (of mmtrain cv or train), or a folder holding report.json (report/, evaluate's --out).")
  var runDir: String

  func run() throws {
    // RUN_DIR (cv, train), the folder holding report.json itself (report/, an evaluate --out folder), or
    // report.json itself
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: runDir, isDirectory: &isDirectory)
    let dir =
      exists && !isDirectory.boolValue
      ? URL(fileURLWithPath: runDir).deletingLastPathComponent().path
      : FileManager.default.fileExists(atPath: runDir + "/report.json") ? runDir : runDir + "/report"
    do {
      let report = try ReportFiles.read(URL(fileURLWithPath: dir + "/report.json"))
      try ReportFiles.renderDocuments(report, to: URL(fileURLWithPath: dir))
      print("report: \(dir)/report.md, \(dir)/report.html")
    } catch {
      Console.error("\(error)")
      throw ExitCode(ExitStatus.failure)
    }
  }
}
