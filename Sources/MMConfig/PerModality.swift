import MMCore
// A key that is one integer for every modality, or a map with one per modality (`data.steps`,
// `model.hidden`): `64` or `{text: 64, audio: 32}`.

/// One value for every modality, or one per modality by name.
public enum PerModality: Equatable, Sendable {
  case all(Int)
  case each([String: Int])

  /// The value for modality `name`; nil when a map has no entry for it.
  public func value(for name: String) -> Int? {
    switch self {
    case .all(let v): return v
    case .each(let map): return map[name]
    }
  }

  /// The single value, or nil for a map.
  public var uniform: Int? { if case .all(let v) = self { return v } else { return nil } }
  public var isMap: Bool { uniform == nil }

  /// Checks a map against the modalities a run uses: every entry names one of them, and each has one.
  /// `key` is the full key path, for the error ("model.hidden").
  public func check(key: String, modalities: [String]) throws {
    guard case .each(let map) = self else { return }
    if let unknown = map.keys.sorted().first(where: { !modalities.contains($0) }) {
      throw MMError.usage(
        "\(key) names modality '\(unknown)', which the run does not use (its modalities: \(modalities.joined(separator: ", "))); fix the name or drop the entry"
      )
    }
    if let missing = modalities.first(where: { map[$0] == nil }) {
      throw MMError.usage(
        "\(key) has no entry for modality '\(missing)'; give every modality a value, or one integer for all")
    }
  }

  /// YAML flow text: `64` or `{audio: 32, text: 64}` (keys sorted).
  var yaml: String {
    switch self {
    case .all(let v): return String(v)
    case .each(let map):
      return "{" + map.keys.sorted().map { "\(YAMLText.string($0)): \(map[$0]!)" }.joined(separator: ", ") + "}"
    }
  }
}

extension PerModality: ExpressibleByIntegerLiteral {
  /// `config.data.steps = 20` means 20 for every modality.
  public init(integerLiteral value: Int) { self = .all(value) }
}
