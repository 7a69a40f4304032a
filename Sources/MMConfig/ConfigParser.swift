// Entry points: YAML text (or a file) plus --set overrides -> a checked TrainConfig. Checks happen here,
// before MPI starts, so a typo costs a second rather than a queue slot.
import Foundation

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
      throw ConfigError("\(path): config file not found; check the path (e.g. --config configs/demo.yaml)")
    }
    guard !isDirectory.boolValue else {
      throw ConfigError("\(path): is a directory; pass a YAML file (e.g. --config configs/demo.yaml)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigError("\(path): config file cannot be read; check its permissions")
    }
    if data.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) {  // "\x89HDF\r\n\x1a\n"
      throw ConfigError("\(path): is an HDF5 file, not a YAML config; --config takes the YAML file, whose data.path names the data (see configs/demo.yaml; check the data with mmtrain inspect \(path))")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigError("\(path): config file is not UTF-8 text; save it as UTF-8 YAML")
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
    try checkClasses(config, source: raw.entries["task.classes"]?.source ?? raw.source)
    for (path, value) in [("data.steps", config.data.steps), ("model.hidden", config.model.hidden)]
    where value.isMap && config.model.fusion == .early {
      let reader = ValueReader(path: path, source: raw.entries[path]?.source ?? raw.source)
      throw reader.invalid(
        "is a per-modality map, but model.fusion is early: early fusion concatenates the modalities step by step "
          + "into one sequence, so they share one \(path == "data.steps" ? "time axis" : "encoder"); give one integer, "
          + "or use model.fusion: late, attention or tensor")
    }
    return config
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
