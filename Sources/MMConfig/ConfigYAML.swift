// The resolved config written back out, as YAML and as the Markdown reference; both walk ConfigSchema.
import Foundation
import MMCore

extension TrainConfig {
  /// Resolved config as YAML: every key, defaults filled in, sections in the order data, model, task, train,
  /// checkpoint. `parse(yaml: c.yaml(), source: ...) == c` for every valid `c`.
  public func yaml() -> String {
    var lines: [String] = []
    for section in ConfigSchema.sectionNames {
      lines.append("\(section):")
      for key in ConfigSchema.keys(in: section) { lines.append("  \(key.name): \(key.render(self))") }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// One key's value as `mmtrain config --get KEY` prints it: as yaml() shows it, except that a string comes
  /// unquoted (a shell reads it back as it is). An unknown key is a ConfigError with a did-you-mean hint.
  public func value(ofKey path: String) throws -> String {
    try RawConfig.checkKeyPath(path, option: "--get")
    return ConfigSchema.key(path)!.plainText(self)
  }

  /// A key's default, as `value(ofKey:)` prints it; a required key (data.path) has none and is an error.
  public static func defaultValue(ofKey path: String) throws -> String {
    try RawConfig.checkKeyPath(path, option: "--get")
    if let what = ConfigSchema.key(path)!.requiredWhat {
      throw MMError.usage(
        "--get \(path): has no default (it names \(what), which every config gives); read it from a config: --get \(path) --config FILE"
      )
    }
    return try defaults.value(ofKey: path)
  }

  /// The configuration reference: one Markdown table per section (key, type, default, meaning).
  public static func referenceMarkdown() -> String {
    var text = ""
    for (section, help) in ConfigSchema.sections {
      text += "### `\(section)`\n\n\(help)\n\n| key | type | default | meaning |\n|---|---|---|---|\n"
      for key in ConfigSchema.keys(in: section) {
        let defaultCell = key.requiredWhat == nil ? "`\(key.defaultText)`" : "required"
        let cells = ["`\(key.path)`", key.type, defaultCell, key.help].map {
          $0.replacingOccurrences(of: "|", with: "\\|")
        }
        text += "| " + cells.joined(separator: " | ") + " |\n"
      }
      text += "\n"
    }
    return text
  }
}

/// YAML spellings of values, readable by this parser and by YAML 1.1 readers such as PyYAML.
enum YAMLText {
  /// Shortest text that reads back as the same Double; "1e-08" becomes "1.0e-08", which YAML 1.1 needs to
  /// see a float.
  static func float(_ value: Double) -> String {
    let text = "\(value)"
    return text.contains("e") && !text.contains(".") ? text.replacingOccurrences(of: "e", with: ".0e") : text
  }

  /// Plain when that reads back as the same string, double-quoted otherwise.
  static func string(_ value: String) -> String {
    needsQuotes(value) ? quoted(value) : value
  }

  private static let specialFirst = Set("-?:,[]{}#&*!|>'\"%@` ")
  private static let specialAnywhere = Set(",[]{}\"\\")
  private static let nonStrings: Set = ["~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"]

  private static func needsQuotes(_ value: String) -> Bool {
    guard let first = value.first, let last = value.last else { return true }
    return specialFirst.contains(first) || last == " " || last == ":"
      || value.contains(where: { specialAnywhere.contains($0) || $0.isNewline || $0 == "\t" })
      || value.contains(": ") || value.contains(" #")
      || nonStrings.contains(value.lowercased()) || Double(value) != nil
  }

  /// JSON-style escaping, which YAML's double-quoted style accepts.
  private static func quoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20: out += String(format: "\\u%04X", scalar.value)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
