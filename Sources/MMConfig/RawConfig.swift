// The user's values before they are typed: the YAML file's two-level tree flattened to "section.key" ->
// node, with --set overrides laid over it. Unknown sections and keys are rejected here, with a hint.
import Foundation
import MMCore
import Yams

struct RawConfig {
  struct Entry {
    let node: Node
    /// The config file's name, or "--set".
    let source: String
  }

  /// The config file's name, for errors about keys nobody wrote (a missing data.path).
  let source: String
  /// Full key path -> value; every path is a key in ConfigSchema.
  private(set) var entries: [String: Entry] = [:]

  init(yaml: String, source: String) throws {
    self.source = source
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch {
      throw MMError.usage(
        "\(source): invalid YAML: \(Self.summary(of: error)); check the indentation, and quote values "
          + "that contain ': ' or ' #'")
    }
    // An empty file is an empty mapping: every key takes its default (and data.path is reported missing).
    guard let root, !ValueReader.isNull(root) else { return }
    guard let sections = root.mapping else {
      throw MMError.usage(
        "\(source): the top level must be a mapping of sections (\(Self.sectionList)), "
          + "got \(ValueReader.describe(root))")
    }
    var seenSections = Set<String>()
    for (sectionNode, body) in sections {
      let section = try keyName(sectionNode, in: nil)
      guard ConfigSchema.sectionNames.contains(section) else { throw unknownTopLevel(section) }
      guard seenSections.insert(section).inserted else {
        throw MMError.usage("\(source): section '\(section)' appears twice; merge its keys under one '\(section):'")
      }
      guard ValueReader.isNull(body) || body.mapping != nil else {
        throw MMError.usage(
          "\(source): section '\(section)' must be a mapping ('\(section):' followed by indented "
            + "'key: value' lines), got \(ValueReader.describe(body))")
      }
      for (keyNode, value) in body.mapping ?? [:] {
        let path = "\(section).\(try keyName(keyNode, in: section))"
        guard ConfigSchema.key(path) != nil else {
          throw Self.unknownKey(path, in: section, source: source)
        }
        guard entries[path] == nil else { throw MMError.usage("\(source): \(path) is given twice; keep one") }
        entries[path] = Entry(node: value, source: source)
      }
    }
  }

  /// Applies one `--set key.path=value`; the value is read as YAML, so `[text, audio]` is a list.
  mutating func apply(override: String) throws {
    guard let equals = override.firstIndex(of: "=") else {
      throw MMError.usage("--set: '\(override)' has no '='; write --set key.path=value, e.g. --set train.lr=0.001")
    }
    let path = override[..<equals].trimmingCharacters(in: .whitespaces)
    let text = String(override[override.index(after: equals)...])
    try Self.checkKeyPath(path, option: "--set")
    let node: Node?
    do {
      node = try Yams.compose(yaml: text)
    } catch {
      throw MMError.usage(
        "--set: \(path)=\(text): the value is not valid YAML (\(Self.summary(of: error, withPosition: false))); "
          + "check its brackets, or quote it as a string: --set '\(path)=\"\(text)\"'")
    }
    // `--set task.classes=` sets null, like an empty value in the file.
    entries[path] = Entry(node: node ?? Node(""), source: "--set")
  }

  // MARK: - Errors

  private func keyName(_ node: Node, in section: String?) throws -> String {
    guard let name = node.scalar?.string else {
      let place = section.map { "in section '\($0)'" } ?? "at the top level"
      throw MMError.usage("\(source): keys must be plain names; found \(ValueReader.describe(node)) \(place)")
    }
    return name
  }

  private func unknownTopLevel(_ name: String) -> MMError {
    if let key = ConfigSchema.key(name) {
      return MMError.usage(
        "\(source): '\(name)' must be nested under its section: write '\(key.section):' and below it, "
          + "indented, '\(key.name): ...'")
    }
    guard let suggestion = KeySuggestion.closest(to: name, inSection: nil) else {
      return MMError.usage("\(source): unknown section '\(name)'; the sections are \(Self.sectionList)")
    }
    let kind = ConfigSchema.sectionNames.contains(suggestion) ? "section" : "key"
    return MMError.usage("\(source): unknown \(kind) '\(name)' (did you mean '\(suggestion)'?)")
  }

  /// Throws, with a did-you-mean hint, unless `path` is a key ("train.lr"); `option` (--set, --get) starts
  /// the message.
  static func checkKeyPath(_ path: String, option: String) throws {
    if ConfigSchema.key(path) != nil { return }
    let parts = path.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    if parts.count == 2, ConfigSchema.sectionNames.contains(parts[0]) {
      throw unknownKey(path, in: parts[0], source: option)
    }
    if ConfigSchema.sectionNames.contains(path) {
      let example =
        option == "--set" ? "set one key at a time, e.g. --set train.lr=0.001" : "give one key, e.g. \(option) train.lr"
      throw MMError.usage("\(option): '\(path)' is a section; \(example)")
    }
    let suggestion =
      parts.count == 2
      ? KeySuggestion.closest(toPath: path)
      : KeySuggestion.closest(to: path, inSection: nil, includeSections: false)
    throw MMError.usage(
      "\(option): unknown key '\(path)'"
        + (suggestion.map { " (did you mean '\($0)'?)" } ?? "; keys are section.key, e.g. train.lr"))
  }

  /// `path` is "section.name" with a valid section and a name that section does not have.
  private static func unknownKey(_ path: String, in section: String, source: String) -> MMError {
    let name = String(path.dropFirst(section.count + 1))
    if let suggestion = KeySuggestion.closest(to: name, inSection: section) {
      return MMError.usage("\(source): unknown key '\(path)' (did you mean '\(suggestion)'?)")
    }
    let valid = ConfigSchema.keys(in: section).map(\.name).joined(separator: ", ")
    return MMError.usage("\(source): unknown key '\(path)'; the keys in '\(section)' are \(valid)")
  }

  private static var sectionList: String { ConfigSchema.sectionNames.joined(separator: ", ") }

  /// Yams' error as one line, with its line and column for a file ("line 3, column 7: mapping values are not
  /// allowed in this context"); a one-line --set value has no use for them.
  static func summary(of error: Error, withPosition: Bool = true) -> String {
    guard let yamlError = error as? YamlError else { return "\(error)" }
    switch yamlError {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      guard withPosition else { return problem }
      let during = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
      return "line \(mark.line), column \(mark.column): \(problem)\(during)"
    default:
      return yamlError.description.split(separator: "\n").first.map(String.init) ?? "unreadable YAML"
    }
  }
}
