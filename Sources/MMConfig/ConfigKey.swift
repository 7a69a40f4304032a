// One configuration key: where it sits in the YAML tree, how it is documented, and how its value is read,
// range-checked, stored into a TrainConfig and written back out. ConfigSchema.keys lists every key once;
// the parser, TrainConfig.defaults, yaml() and the reference docs all walk that list, so they cannot drift.
import MMModel
import Yams

struct ConfigKey {
  let section: String
  let name: String
  /// Type and allowed values as the docs show them: "int ≥ 1", "sgd | adam".
  let type: String
  let help: String
  /// Names other tools use for this key (PyTorch, Keras, Hugging Face). They only feed the did-you-mean hint.
  let aliases: [String]
  /// Whether an explicit null is a value (task.classes: null = infer) rather than a forgotten value.
  let nullable: Bool
  /// For a key with no default: what it names, for the "is required" error ("the HDF5 data file").
  let requiredWhat: String?
  let applyDefault: (inout TrainConfig) -> Void
  /// Reads the node (nil = null, only passed when `nullable`), checks it, and stores it.
  let assign: (inout TrainConfig, Node?, ValueReader) throws -> Void
  /// The value as YAML flow text: `64`, `0.001`, `[text, audio]`, `null`.
  let render: (TrainConfig) -> String
  /// The value as `mmtrain config --get` prints it: `render`'s text, but a string as it is, never quoted.
  let plainText: (TrainConfig) -> String

  var path: String { "\(section).\(name)" }
  var defaultText: String { requiredWhat == nil ? render(.defaults) : "required" }

  private init<T>(
    _ path: String, _ field: WritableKeyPath<TrainConfig, T>, default value: T, type: String, help: String,
    aliases: [String], nullable: Bool = false, requiredWhat: String? = nil,
    read: @escaping (ValueReader, Node?) throws -> T, render: @escaping (T) -> String, plain: ((T) -> String)? = nil
  ) {
    let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
    precondition(parts.count == 2, "schema key paths are section.key, got '\(path)'")
    (section, name) = (parts[0], parts[1])
    (self.type, self.help, self.aliases, self.nullable, self.requiredWhat) =
      (type, help, aliases, nullable, requiredWhat)
    applyDefault = { $0[keyPath: field] = value }
    assign = { config, node, reader in config[keyPath: field] = try read(reader, node) }
    self.render = { render($0[keyPath: field]) }
    let plain = plain ?? render
    plainText = { plain($0[keyPath: field]) }
  }
}

// MARK: - One constructor per value type

extension ConfigKey {
  static func int(
    _ path: String, _ field: WritableKeyPath<TrainConfig, Int>, default value: Int, min: Int, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: "int ≥ \(min)", help: help, aliases: aliases,
      read: { try $0.int($1!, min: min) }, render: { String($0) })
  }

  /// An integer that may be null, meaning "infer it".
  static func optionalInt(
    _ path: String, _ field: WritableKeyPath<TrainConfig, Int?>, min: Int, help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: nil, type: "int ≥ \(min) or null", help: help, aliases: aliases, nullable: true,
      read: { reader, node in try node.map { try reader.int($0, min: min) } },
      render: { $0.map(String.init) ?? "null" })
  }

  static func seed(
    _ path: String, _ field: WritableKeyPath<TrainConfig, UInt64>, default value: UInt64, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: "int ≥ 0", help: help, aliases: aliases,
      read: { try $0.uint64($1!) }, render: { String($0) })
  }

  static func float(
    _ path: String, _ field: WritableKeyPath<TrainConfig, Double>, default value: Double, _ range: FloatRange,
    help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: range.typeText, help: help, aliases: aliases,
      read: { try $0.double($1!, range) }, render: YAMLText.float)
  }

  static func choice<E: RawRepresentable & CaseIterable>(
    _ path: String, _ field: WritableKeyPath<TrainConfig, E>, default value: E, help: String,
    aliases: [String] = []
  ) -> ConfigKey where E.RawValue == String {
    ConfigKey(
      path, field, default: value, type: E.allCases.map(\.rawValue).joined(separator: " | "), help: help,
      aliases: aliases, read: { try $0.choice($1!, E.self) }, render: { $0.rawValue })
  }

  /// A non-empty string; with `requiredWhat` it has no default and must be given.
  static func string(
    _ path: String, _ field: WritableKeyPath<TrainConfig, String>, default value: String = "",
    requiredWhat: String? = nil, help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: "string", help: help, aliases: aliases, requiredWhat: requiredWhat,
      read: { reader, node in
        let text = try reader.string(node!)
        if text.isEmpty { throw requiredWhat.map(reader.required) ?? reader.invalid("must not be empty") }
        return text
      },
      render: YAMLText.string, plain: { $0 })
  }

  static func bool(
    _ path: String, _ field: WritableKeyPath<TrainConfig, Bool>, default value: Bool, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: "true | false", help: help, aliases: aliases,
      read: { try $0.bool($1!) }, render: { $0 ? "true" : "false" })
  }

  /// An integer for every modality, or a map of one per modality.
  static func perModality(
    _ path: String, _ field: WritableKeyPath<TrainConfig, PerModality<Int>>, default value: Int, min: Int, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: .all(value), type: "int ≥ \(min), or {modality: int}", help: help, aliases: aliases,
      read: { try $0.perModality($1!, min: min) }, render: { $0.yaml { String($0) } })
  }

  /// `64`, `[128, 64]` (one width per layer), or a map of either per modality.
  static func layerWidths(
    _ path: String, _ field: WritableKeyPath<TrainConfig, PerModality<LayerWidths>>, default value: Int,
    help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: .all(.uniform(value)), type: "int ≥ 1, [int, ...] per layer, or {modality: either}",
      help: help, aliases: aliases, read: { try $0.layerWidths($1!) }, render: { $0.yaml(\.yaml) })
  }

  /// `{<modality>: {kind: mlp, widths: [32]}, ...}`.
  static func encoders(
    _ path: String, _ field: WritableKeyPath<TrainConfig, [String: EncoderChoice]>, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: [:], type: "{modality: {kind: mlp, widths} or {kind: conv, channels, kernel, pool}}",
      help: help, aliases: aliases,
      read: { try $0.encoders($1!) },
      render: { map in
        "{" + map.keys.sorted().map { "\(YAMLText.string($0)): \(map[$0]!.yaml)" }.joined(separator: ", ") + "}"
      })
  }

  /// `{<modality>: {size: 100, freeze: true}, ...}`.
  static func embeddings(
    _ path: String, _ field: WritableKeyPath<TrainConfig, [String: EmbedChoice]>, help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: [:], type: "{modality: {size: int ≥ 1, freeze: bool}}", help: help, aliases: aliases,
      read: { try $0.embeddings($1!) },
      render: { map in
        "{" + map.keys.sorted().map { "\(YAMLText.string($0)): \(map[$0]!.yaml)" }.joined(separator: ", ") + "}"
      })
  }

  /// `64`, `[32, 16]` (Linear→ReLU per width), `0` or `[]` (a Linear head), or null (the fusion's default).
  static func headWidths(
    _ path: String, _ field: WritableKeyPath<TrainConfig, [Int]?>, help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: nil, type: "int ≥ 0, [int, ...], or null", help: help, aliases: aliases, nullable: true,
      read: { reader, node in try node.map { try reader.headWidths($0) } },
      render: { widths in
        guard let widths else { return "null" }
        return widths.count == 1 ? String(widths[0]) : "[" + widths.map(String.init).joined(separator: ", ") + "]"
      })
  }

  /// `none | balanced | [w0, w1, ...]`.
  static func classWeights(
    _ path: String, _ field: WritableKeyPath<TrainConfig, ClassWeights>, help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: .none, type: "none | balanced | [w0, w1, ...]", help: help, aliases: aliases,
      read: { try $0.classWeights($1!) },
      render: { weights in
        switch weights {
        case .none: return "none"
        case .balanced: return "balanced"
        case .list(let w): return "[" + w.map(YAMLText.float).joined(separator: ", ") + "]"
        }
      })
  }

  /// A mapping `{metric, patience, min_delta}`, or null (absent) for off.
  static func earlyStopping(
    _ path: String, _ field: WritableKeyPath<TrainConfig, EarlyStopping?>, help: String, aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: nil, type: "{metric, patience, min_delta} or null", help: help, aliases: aliases,
      nullable: true,
      read: { reader, node in try node.map { try reader.earlyStopping($0) } },
      render: { e in
        e.map { "{metric: \($0.metric.rawValue), patience: \($0.patience), min_delta: \(YAMLText.float($0.minDelta))}" }
          ?? "null"
      })
  }

  static func stringList(
    _ path: String, _ field: WritableKeyPath<TrainConfig, [String]>, default value: [String], help: String,
    aliases: [String] = []
  ) -> ConfigKey {
    ConfigKey(
      path, field, default: value, type: "list of strings", help: help, aliases: aliases,
      read: { try $0.stringList($1!) }, render: { "[" + $0.map(YAMLText.string).joined(separator: ", ") + "]" })
  }
}
