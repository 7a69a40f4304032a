import MMCore
// A key that is one value for every modality, or a map with one per modality (`data.steps`,
// `model.hidden`): `64` or `{text: 64, audio: 32}`; for `model.hidden` a value may be a list of widths,
// one per layer: `[128, 64]` or `{text: [128, 64], audio: 32}`.

/// One value for every modality, or one per modality by name.
public enum PerModality<Value: Equatable & Sendable>: Equatable, Sendable {
  case all(Value)
  case each([String: Value])

  /// The value for modality `name`; nil when a map has no entry for it.
  public func value(for name: String) -> Value? {
    switch self {
    case .all(let v): return v
    case .each(let map): return map[name]
    }
  }

  /// The single value, or nil for a map.
  public var uniform: Value? { if case .all(let v) = self { return v } else { return nil } }
  public var isMap: Bool { uniform == nil }
  /// Every value given (one, or the map's).
  public var values: [Value] {
    switch self {
    case .all(let v): return [v]
    case .each(let map): return map.keys.sorted().map { map[$0]! }
    }
  }

  /// Checks a map against the modalities a run uses: every entry names one of them, and each has one.
  /// `key` is the full key path, for the error ("model.hidden"). `alsoAllowed`: names that may have an entry
  /// but need none (static vectors, which ignore it).
  public func check(key: String, modalities: [String], alsoAllowed: [String] = []) throws {
    guard case .each(let map) = self else { return }
    if let unknown = map.keys.sorted().first(where: { !modalities.contains($0) && !alsoAllowed.contains($0) }) {
      throw MMError.usage(
        "\(key) names modality '\(unknown)', which the run does not use (its modalities: \(modalities.joined(separator: ", "))); fix the name or drop the entry"
      )
    }
    if let missing = modalities.first(where: { map[$0] == nil }) {
      throw MMError.usage(
        "\(key) has no entry for modality '\(missing)'; give every modality a value, or one for all")
    }
  }

  /// YAML flow text: `64` or `{audio: 32, text: 64}` (keys sorted), each value as `text` writes it.
  func yaml(_ text: (Value) -> String) -> String {
    switch self {
    case .all(let v): return text(v)
    case .each(let map):
      return "{" + map.keys.sorted().map { "\(YAMLText.string($0)): \(text(map[$0]!))" }.joined(separator: ", ") + "}"
    }
  }
}

extension PerModality: ExpressibleByIntegerLiteral where Value: ExpressibleByIntegerLiteral {
  /// `config.data.steps = 20` means 20 for every modality; `config.model.hidden = 64`, 64 in every layer.
  public init(integerLiteral value: Value.IntegerLiteralType) { self = .all(Value(integerLiteral: value)) }
}

/// `model.hidden` for one encoder: one width for every layer (`64`), or one per layer (`[128, 64]`).
public enum LayerWidths: Equatable, Sendable, ExpressibleByIntegerLiteral {
  case uniform(Int)
  case perLayer([Int])

  public init(integerLiteral value: Int) { self = .uniform(value) }

  /// The widths as ModelSpec.Input takes them: one for every layer, or one per layer.
  public var widths: [Int] {
    switch self {
    case .uniform(let w): return [w]
    case .perLayer(let w): return w
    }
  }

  /// `64` or `[128, 64]`.
  var yaml: String {
    switch self {
    case .uniform(let w): return String(w)
    case .perLayer(let w): return "[" + w.map(String.init).joined(separator: ", ") + "]"
    }
  }
}
