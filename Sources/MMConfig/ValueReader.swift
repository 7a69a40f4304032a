// Turns one YAML node into a typed value for one key, or into a one-line error that names the source
// (file or "--set"), the full key path, what was expected and what was found.
import MMCore
import MMModel
import Yams

/// Allowed ranges for float keys.
enum FloatRange {
  case positive  // > 0
  case nonNegative  // ≥ 0
  case unitInterval  // [0, 1)

  var typeText: String {
    switch self {
    case .positive: return "float > 0"
    case .nonNegative: return "float ≥ 0"
    case .unitInterval: return "float in [0, 1)"
    }
  }

  func contains(_ x: Double) -> Bool {
    switch self {
    case .positive: return x > 0
    case .nonNegative: return x >= 0
    case .unitInterval: return x >= 0 && x < 1
    }
  }

  /// Completes "train.lr must be ...".
  var requirement: String {
    switch self {
    case .positive: return "greater than 0"
    case .nonNegative: return "at least 0"
    case .unitInterval: return "in [0, 1), i.e. at least 0 and below 1"
    }
  }
}

struct ValueReader {
  /// Full key path, e.g. "train.lr".
  let path: String
  /// The config file's name, or "--set" for an override.
  let source: String

  func invalid(_ problem: String) -> MMError { MMError.usage("\(source): \(path) \(problem)") }

  func required(_ what: String) -> MMError { MMError.usage("\(source): \(path) is required (\(what))") }

  func int(_ node: Node, min: Int) throws -> Int {
    let text = try scalarText(node, expected: "an integer")
    guard let value = Int(text) ?? Double(text).flatMap(Int.init(exactly:)) else {
      throw invalid("must be an integer, got '\(text)'")
    }
    guard value >= min else { throw invalid("must be at least \(min), got \(value)") }
    return value
  }

  func uint64(_ node: Node) throws -> UInt64 {
    let text = try scalarText(node, expected: "a non-negative integer")
    guard let value = UInt64(text) ?? Double(text).flatMap(UInt64.init(exactly:)) else {
      throw invalid("must be a non-negative integer, got '\(text)'")
    }
    return value
  }

  func double(_ node: Node, _ range: FloatRange) throws -> Double {
    let text = try scalarText(node, expected: "a number")
    guard let value = Double(text), value.isFinite else { throw invalid("must be a number, got '\(text)'") }
    guard range.contains(value) else { throw invalid("must be \(range.requirement), got \(text)") }
    return value
  }

  /// Enum values are matched case-insensitively ("Adam" is adam); the error lists every allowed value.
  func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _: E.Type) throws -> E where E.RawValue == String {
    let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
    let text = try scalarText(node, expected: "one of \(allowed)")
    guard let value = E.allCases.first(where: { $0.rawValue == text.lowercased() }) else {
      throw invalid("must be one of \(allowed); got '\(text)'" + Self.hint(text, among: E.allCases.map(\.rawValue)))
    }
    return value
  }

  /// " (did you mean 'adamw'?)" for the closest of `names` within max(2, half the length) edits, else "".
  static func hint(_ typed: String, among names: [String]) -> String {
    let typed = typed.lowercased()
    // Ties go to the spelling of the same length ('adamv' is 'adamw' mistyped, not 'adam' with a letter added).
    func rank(_ name: String) -> (Int, Int) { (editDistance(typed, name), abs(name.count - typed.count)) }
    guard let best = names.min(by: { rank($0) < rank($1) }),
      editDistance(typed, best) <= max(2, typed.count / 2)
    else { return "" }
    return " (did you mean '\(best)'?)"
  }

  /// `none`, `balanced`, or a list of non-negative numbers, one per class: `[1.0, 3.5]`.
  func classWeights(_ node: Node) throws -> ClassWeights {
    if let scalar = node.scalar {
      switch scalar.string.lowercased() {
      case "none": return .none
      case "balanced": return .balanced
      default:
        throw invalid(
          "must be none, balanced or a list of weights such as [1.0, 3.0], got '\(scalar.string)'"
            + Self.hint(scalar.string, among: ["none", "balanced"]))
      }
    }
    guard let sequence = node.sequence, sequence.count > 0 else {
      throw invalid(
        "must be none, balanced or a non-empty list of weights such as [1.0, 3.0], got \(Self.describe(node))")
    }
    return .list(
      try sequence.enumerated().map { index, item in
        guard let text = item.scalar?.string, let w = Double(text), w.isFinite else {
          throw invalid("must be a list of numbers, but item \(index + 1) is \(Self.describe(item))")
        }
        guard w >= 0 else {
          throw invalid("has a negative weight \(text) for class \(index); class weights must be at least 0")
        }
        return w
      })
  }

  /// `{metric: val_loss, patience: 5, min_delta: 0.001}`; each entry may be left out for its default.
  func earlyStopping(_ node: Node) throws -> EarlyStopping {
    guard let mapping = node.mapping else {
      throw invalid(
        "must be a mapping such as {metric: val_loss, patience: 5, min_delta: 0.0}, got \(Self.describe(node)); "
          + "leave the key out to turn early stopping off")
    }
    var result = EarlyStopping()
    let fields = ["metric", "patience", "min_delta"]
    for (keyNode, value) in mapping {
      let name = keyNode.scalar?.string ?? ""
      let reader = ValueReader(path: "\(path).\(name)", source: source)
      switch name {
      case "metric": result.metric = try reader.choice(value, EarlyStoppingMetric.self)
      case "patience": result.patience = try reader.int(value, min: 1)
      case "min_delta": result.minDelta = try reader.double(value, .nonNegative)
      default:
        throw invalid(
          "has no entry '\(name)'" + Self.hint(name, among: fields)
            + "; its entries are \(fields.joined(separator: ", "))")
      }
    }
    return result
  }

  func string(_ node: Node) throws -> String { try scalarText(node, expected: "a string") }

  func bool(_ node: Node) throws -> Bool {
    let text = try scalarText(node, expected: "true or false")
    switch text.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: throw invalid("must be true or false, got '\(text)'")
    }
  }

  /// An integer for every modality, or a mapping of modality name to integer, e.g. `{text: 64, audio: 32}`.
  func perModality(_ node: Node, min: Int) throws -> PerModality<Int> {
    if node.scalar != nil { return .all(try int(node, min: min)) }
    guard let mapping = node.mapping else {
      throw invalid(
        "must be an integer or a mapping of modality to integer such as {text: 64, audio: 32}, got \(Self.describe(node))"
      )
    }
    var map: [String: Int] = [:]
    for (keyNode, value) in mapping {
      guard let name = keyNode.scalar?.string, !name.isEmpty else {
        throw invalid("has a key that is not a modality name")
      }
      guard map[name] == nil else { throw invalid("names '\(name)' twice") }
      map[name] = try ValueReader(path: "\(path).\(name)", source: source).int(value, min: min)
    }
    guard !map.isEmpty else { throw invalid("is an empty mapping; give an integer or one entry per modality") }
    return .each(map)
  }

  /// `model.hidden`: `64`, `[128, 64]`, or a mapping of modality name to either.
  func layerWidths(_ node: Node) throws -> PerModality<LayerWidths> {
    if node.mapping == nil { return .all(try widths(node)) }
    var map: [String: LayerWidths] = [:]
    for (keyNode, value) in node.mapping! {
      guard let name = keyNode.scalar?.string, !name.isEmpty else {
        throw invalid("has a key that is not a modality name")
      }
      guard map[name] == nil else { throw invalid("names '\(name)' twice") }
      map[name] = try ValueReader(path: "\(path).\(name)", source: source).widths(value)
    }
    guard !map.isEmpty else { throw invalid("is an empty mapping; give an integer or one entry per modality") }
    return .each(map)
  }

  /// One encoder's widths: an integer ≥ 1, or a non-empty list of them, one per layer.
  private func widths(_ node: Node) throws -> LayerWidths {
    if node.scalar != nil { return .uniform(try int(node, min: 1)) }
    guard let sequence = node.sequence else {
      throw invalid(
        "must be an integer, a list of integers (one per layer, such as [128, 64]) or a mapping of modality to "
          + "either such as {text: [128, 64], audio: 32}, got \(Self.describe(node))")
    }
    guard !sequence.isEmpty else { throw invalid("is an empty list; give one width per layer, such as [128, 64]") }
    return .perLayer(
      try sequence.enumerated().map { index, item in
        try ValueReader(path: "\(path)[\(index)]", source: source).int(item, min: 1)
      })
  }

  /// A mapping of modality name to a mapping of fields (`model.encoders`, `model.embed`): `read(name, reader,
  /// fields)` makes each entry's value; `what`, `modality` and `example` word the errors.
  func modalityMap<Value>(
    _ node: Node, what: String, modality: String, example: String,
    _ read: (String, ValueReader, [String: Node]) throws -> Value
  ) throws -> [String: Value] {
    if Self.isNull(node) { return [:] }
    guard let mapping = node.mapping else {
      throw invalid(
        "must be a mapping of modality to \(what), such as {\(modality): \(example)}, got \(Self.describe(node))")
    }
    var map: [String: Value] = [:]
    for (keyNode, value) in mapping {
      guard let name = keyNode.scalar?.string, !name.isEmpty else {
        throw invalid("has a key that is not a modality name")
      }
      let reader = ValueReader(path: "\(path).\(name)", source: source)
      guard let fields = value.mapping else {
        throw reader.invalid("must be a mapping such as \(example), got \(Self.describe(value))")
      }
      var entries: [String: Node] = [:]
      for (k, v) in fields {
        guard let key = k.scalar?.string else { throw reader.invalid("has a key that is not a name") }
        entries[key] = v
      }
      map[name] = try read(name, reader, entries)
    }
    return map
  }

  /// `model.encoders`: a mapping of modality name to `{kind: mlp, widths: [W, ...]}`.
  func encoders(_ node: Node) throws -> [String: EncoderChoice] {
    try modalityMap(node, what: "encoder", modality: "face", example: "{kind: mlp, widths: [32]}") {
      name, reader, entries in
      guard let kindNode = entries["kind"], let kind = kindNode.scalar?.string else {
        throw reader.invalid("needs a kind (mlp or conv)")
      }
      func list(_ field: String, example: String) throws -> [Int]? {
        try entries[field].map { node -> [Int] in
          let r = ValueReader(path: "\(path).\(name).\(field)", source: source)
          guard let items = node.sequence else {
            throw r.invalid("must be a list such as \(example), got \(Self.describe(node))")
          }
          return try items.enumerated().map {
            try ValueReader(path: "\(r.path)[\($0)]", source: source).int($1, min: 1)
          }
        }
      }
      let fieldsOf = ["mlp": ["widths"], "conv": ["channels", "kernel", "pool"]]
      guard let allowed = fieldsOf[kind] else {
        throw reader.invalid(
          "has kind '\(kind)'; the kinds are: mlp (a static vector's Linear + ReLU layers), conv (an image's convolutions)"
        )
      }
      if let unknown = entries.keys.sorted().first(where: { $0 != "kind" && !allowed.contains($0) }) {
        throw reader.invalid(
          "has '\(unknown)', which kind \(kind) does not take (it takes \(allowed.joined(separator: ", ")))")
      }
      if kind == "mlp" { return .mlp(widths: try list("widths", example: "[32]") ?? []) }
      guard let channels = try list("channels", example: "[64, 128]"), !channels.isEmpty else {
        throw reader.invalid("needs channels, one output channel count per convolution, such as [64, 128]")
      }
      func int(_ field: String, _ fallback: Int) throws -> Int {
        try entries[field].map { try ValueReader(path: "\(path).\(name).\(field)", source: source).int($0, min: 1) }
          ?? fallback
      }
      return .conv(channels: channels, kernel: try int("kernel", 3), pool: try int("pool", 2))
    }
  }

  /// `model.embed`: a mapping of modality name to `{size: E, freeze: BOOL}` (either field may be left out).
  func embeddings(_ node: Node) throws -> [String: EmbedChoice] {
    try modalityMap(node, what: "embedding", modality: "text", example: "{size: 100, freeze: false}") {
      name, reader, entries in
      var choice = EmbedChoice()
      for (key, v) in entries.sorted(by: { $0.key < $1.key }) {
        let field = ValueReader(path: "\(path).\(name).\(key)", source: source)
        switch key {
        case "size": choice.size = try field.int(v, min: 1)
        case "freeze": choice.freeze = try field.bool(v)
        default:
          throw reader.invalid("has '\(key)'; an embedding takes size (its width E) and freeze (true or false)")
        }
      }
      return choice
    }
  }

  /// `model.head_hidden`: an integer ≥ 0 (0 = a Linear head) or a list of widths ≥ 1 (`[]` = a Linear head).
  func headWidths(_ node: Node) throws -> [Int] {
    if node.scalar != nil {
      let width = try int(node, min: 0)
      return width == 0 ? [] : [width]
    }
    guard let sequence = node.sequence else {
      throw invalid(
        "must be an integer or a list of widths such as [32, 16] (0 or [] for a Linear head), got \(Self.describe(node))"
      )
    }
    return try sequence.enumerated().map { index, item in
      try ValueReader(path: "\(path)[\(index)]", source: source).int(item, min: 1)
    }
  }

  /// A list of distinct, non-empty strings, e.g. `[text, audio]`.
  func stringList(_ node: Node) throws -> [String] {
    guard let sequence = node.sequence else {
      throw invalid("must be a list of strings such as [text, audio], got \(Self.describe(node))")
    }
    var items: [String] = []
    for (index, item) in sequence.enumerated() {
      guard let text = item.scalar?.string else {
        throw invalid("must be a list of strings, but item \(index + 1) is \(Self.describe(item))")
      }
      guard !text.isEmpty else { throw invalid("must be a list of strings, but item \(index + 1) is empty") }
      guard !items.contains(text) else { throw invalid("lists '\(text)' twice; name each modality once") }
      items.append(text)
    }
    return items
  }

  private func scalarText(_ node: Node, expected: String) throws -> String {
    guard let scalar = node.scalar else { throw invalid("must be \(expected), got \(Self.describe(node))") }
    return scalar.string
  }

  /// How a node reads in an error: 'ten', a list, a mapping.
  static func describe(_ node: Node) -> String {
    if let scalar = node.scalar { return "'\(scalar.string)'" }
    return node.sequence != nil ? "a list" : "a mapping"
  }

  /// YAML's spellings of null, when written unquoted (an empty value `key:` included).
  static func isNull(_ node: Node) -> Bool {
    guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .any else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }
}
