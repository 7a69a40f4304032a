// Entry points: YAML text (or a file) plus --set overrides -> a checked TrainConfig. Checks happen here,
// before MPI starts, so a typo costs a second rather than a queue slot.
import Foundation
import MMCore
import MMEval
import MMModel

extension TrainConfig {
  /// Parse YAML text. `source` names the file in errors ("configs/x.yaml"). `overrides` are "key.path=value"
  /// strings from --set, applied to the parsed tree before validation; each value is read as YAML, so
  /// `data.modalities=[text,audio]`, `train.lr=1e-3` and `train.epochs=3` all work.
  public static func parse(yaml: String, source: String, overrides: [String] = []) throws -> TrainConfig {
    var raw = try RawConfig(yaml: yaml, source: source)
    for override in overrides { try raw.apply(override: override) }
    return try resolve(raw)
  }

  /// Reads and parses a config file; a missing or unreadable file is a ConfigError naming the path.
  public static func load(path: String, overrides: [String] = []) throws -> TrainConfig {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw MMError.usage("\(path): config file not found; check the path (e.g. --config configs/demo.yaml)")
    }
    guard !isDirectory.boolValue else {
      throw MMError.usage("\(path): is a directory; pass a YAML file (e.g. --config configs/demo.yaml)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw MMError.usage("\(path): config file cannot be read; check its permissions")
    }
    if data.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) {  // "\x89HDF\r\n\x1a\n"
      throw MMError.usage(
        "\(path): is an HDF5 file, not a YAML config; --config takes the YAML file, whose data.path names the data (see configs/demo.yaml; check the data with mmtrain inspect \(path))"
      )
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw MMError.usage("\(path): config file is not UTF-8 text; save it as UTF-8 YAML")
    }
    return try parse(yaml: text, source: path, overrides: overrides)
  }

  /// Types every key (defaults for those not given), then checks the rules that span keys.
  private static func resolve(_ raw: RawConfig) throws -> TrainConfig {
    var config = TrainConfig.defaults
    for key in ConfigSchema.keys {
      let entry = raw.entries[key.path]
      let reader = ValueReader(path: key.path, source: entry?.source ?? raw.source)
      guard let entry else {  // not written: the default stays, unless there is none
        if let what = key.requiredWhat { throw reader.required(what) }
        continue
      }
      if ValueReader.isNull(entry.node) {  // `key:`, `key: null`, `key: ~`, `--set key=`
        if key.nullable {
          try key.assign(&config, nil, reader)
          continue
        }
        if let what = key.requiredWhat { throw reader.required(what) }
        throw reader.invalid("has no value; give one (default \(key.defaultText)) or leave the key out")
      }
      try key.assign(&config, entry.node, reader)
    }
    // dist.world_invariant left out follows dist.compress: on, unless fp16 (which it cannot be combined with).
    config.dist.worldInvariantGiven = KeyGiven(raw.entries["dist.world_invariant"] != nil)
    if !config.dist.worldInvariantGiven.value { config.dist.worldInvariant = config.dist.compress == .none }
    try checkClasses(config, source: raw.entries["task.classes"]?.source ?? raw.source)
    try checkTrainingControls(config, raw: raw)
    if config.report.metric.resolved(classification: config.task.kind != .regression) == nil {
      let reader = ValueReader(path: "report.metric", source: raw.entries["report.metric"]?.source ?? raw.source)
      let fits = config.task.kind == .regression ? EvalMetrics.regressionNames : EvalMetrics.classificationNames
      throw reader.invalid(
        "is \(config.report.metric.rawValue), which task.kind \(config.task.kind.rawValue) does not report; use auto or one of "
          + fits.joined(separator: ", "))
    }
    if config.cv.parallelFolds > config.cv.folds {
      let reader = ValueReader(
        path: "cv.parallel_folds", source: raw.entries["cv.parallel_folds"]?.source ?? raw.source)
      throw reader.invalid(
        "= \(config.cv.parallelFolds) is more than cv.folds = \(config.cv.folds) (each group of ranks trains one fold at a time); "
          + "use cv.parallel_folds ≤ \(config.cv.folds)")
    }
    try resolveLayers(&config, raw: raw)
    for (path, isMap) in [("data.steps", config.data.steps.isMap), ("model.hidden", config.model.hidden.isMap)]
    where isMap && config.model.fusion.concatenatesSteps {
      let reader = ValueReader(path: path, source: raw.entries[path]?.source ?? raw.source)
      throw reader.invalid(
        "is a per-modality map, but model.fusion is \(config.model.fusion.rawValue): \(config.model.fusion.rawValue) fusion "
          + "concatenates the modalities step by step into one sequence, so they share one "
          + "\(path == "data.steps" ? "time axis" : "encoder"); give one integer, or use model.fusion: "
          + perModalityFusions)
    }
    return config
  }

  /// `model.hidden` lists give each layer its width: `model.layers` becomes their length, and must equal it
  /// when given. Every list of a per-modality map has that length (an integer still means every layer).
  private static func resolveLayers(_ config: inout TrainConfig, raw: RawConfig) throws {
    let lists = config.model.hidden.values.compactMap { w -> [Int]? in
      if case .perLayer(let list) = w { return list } else { return nil }
    }
    guard let first = lists.first else { return }
    let reader = ValueReader(path: "model.hidden", source: raw.entries["model.hidden"]?.source ?? raw.source)
    if let other = lists.first(where: { $0.count != first.count }) {
      throw reader.invalid(
        "gives \(first.count) layers to one modality and \(other.count) to another; model.layers is shared, so give every "
          + "list the same length (an integer means the same width in every layer)")
    }
    if let given = raw.entries["model.layers"], config.model.layers != first.count {
      throw ValueReader(path: "model.layers", source: given.source).invalid(
        "is \(config.model.layers), but model.hidden lists \(first.count) widths (one per layer); make them agree, or "
          + "leave model.layers out")
    }
    config.model.layers = first.count
  }

  /// The training controls that must fit the task, the optimiser or the data split (issue 15).
  private static func checkTrainingControls(_ config: TrainConfig, raw: RawConfig) throws {
    func reader(_ path: String) -> ValueReader {
      ValueReader(path: path, source: raw.entries[path]?.source ?? raw.source)
    }
    let kind = config.task.kind
    if let early = config.train.earlyStopping {
      if !early.metric.applies(to: kind) {
        let valid = EarlyStoppingMetric.allCases.filter { $0.applies(to: kind) }.map(\.rawValue).joined(separator: ", ")
        throw reader("train.early_stopping").invalid(
          "watches \(early.metric.rawValue), which a \(kind.rawValue) task does not have; use one of \(valid)")
      }
      if config.data.validationFraction == 0 {
        throw reader("train.early_stopping").invalid(
          "needs validation rows, but data.validation_fraction is 0; set data.validation_fraction (e.g. 0.2) or drop "
            + "train.early_stopping")
      }
    }
    if config.dist.worldInvariant, config.dist.compress != .none {
      throw reader("dist.world_invariant").invalid(
        "sums exact 64-bit fixed-point gradients, which dist.compress: \(config.dist.compress.rawValue) would round; "
          + "drop one of them (dist.compress: none)")
    }
    if kind == .regression, config.task.classWeights != .none {
      throw reader("task.class_weights").invalid(
        "applies to binary and multiclass tasks; task.kind is regression (drop it)")
    }
    if case .list(let w) = config.task.classWeights {
      if let classes = config.task.classes, w.count != classes {
        throw reader("task.class_weights").invalid(
          "has \(w.count) weights, but task.classes is \(classes); give one weight per class")
      }
      if kind == .binary, w.count != 2 {
        throw reader("task.class_weights").invalid(
          "has \(w.count) weights; a binary task needs 2, [w0, w1] (pos_weight = w1 / w0)")
      }
      if kind == .binary, w[0] == 0 {
        throw reader("task.class_weights").invalid(
          "gives class 0 the weight 0; binary weights become pos_weight = w1 / w0, so w0 must be above 0")
      }
      if w.allSatisfy({ $0 == 0 }) {
        throw reader("task.class_weights").invalid("are all 0; give at least one class a positive weight")
      }
    }
    if config.task.target == .step {
      if !config.model.fusion.concatenatesSteps {
        throw reader("model.fusion").invalid(
          "is \(config.model.fusion.rawValue), but task.target: step needs one time axis: the labels are per step of the "
            + "one sequence the encoder reads; use model.fusion: early (also for a single modality)")
      }
      if config.data.align == .interpolate {
        throw reader("data.align").invalid(
          "is interpolate, but task.target: step never resamples its labels (one per time step); use data.align: pad "
            + "(keep every step) or truncate (the first data.steps)")
      }
      if raw.entries["model.pooling"] != nil, config.model.pooling != .last {
        throw reader("model.pooling").invalid(
          "is \(config.model.pooling.rawValue), but task.target: step reads every step (no pooling); drop model.pooling"
        )
      }
    }
    if config.task.loss != .mse, kind != .regression {
      throw reader("task.loss").invalid(
        "chooses a regression loss, but task.kind is \(kind.rawValue) (its loss is cross-entropy); drop task.loss")
    }
    if config.train.labelSmoothing > 0, kind != .multiclass {
      throw reader("train.label_smoothing").invalid(
        "applies to multiclass only; task.kind is \(kind.rawValue) (set it to 0)")
    }
    if config.train.nesterov, config.train.optimizer == .sgd, config.train.momentum == 0 {
      throw reader("train.nesterov").invalid("needs SGD momentum above 0 (train.momentum is 0), as torch.optim.SGD")
    }
  }

  /// task.classes must fit task.kind; its own range check (≥ 1) already ran.
  private static func checkClasses(_ config: TrainConfig, source: String) throws {
    guard let classes = config.task.classes else { return }
    let reader = ValueReader(path: "task.classes", source: source)
    switch config.task.kind {
    case .binary where classes != 2:
      throw reader.invalid(
        "must be 2 (or left out) when task.kind is binary, got \(classes); use task.kind: multiclass for more")
    case .multiclass where classes < 2:
      throw reader.invalid(
        "must be at least 2 when task.kind is multiclass, got \(classes); leave it out to infer it from the labels")
    default:
      return
    }
  }
}

/// The fusions with one encoder per modality (per-modality steps and hidden sizes): "late, attention or tensor".
private var perModalityFusions: String {
  let names = FusionKind.allCases.filter { !$0.concatenatesSteps }.map(\.rawValue)
  return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
}
