import Foundation
import MMCore

/// The input a model was trained on, as a checkpoint records it (attribute `input`, JSON): which modality
/// fills which columns of the model's input, on how many steps, prepared how, for which task. A checkpoint
/// is only meaningful for input of exactly this layout, so `--resume` and `--init` compare it with the new
/// run's and refuse a difference: a reordered `data.modalities` list keeps the feature count but feeds the
/// weights the wrong columns.
public struct InputRecord: Codable, Equatable, Sendable {
  public struct Modality: Codable, Equatable, Sendable {
    public var name: String
    public var features: Int  // D_name
    public var steps: Int  // steps this modality is brought to (data.steps)
    public var column: Int  // its first column in the fused input
    public init(name: String, features: Int, steps: Int, column: Int) {
      self.name = name; self.features = features; self.steps = steps; self.column = column
    }
  }

  public var modalities: [Modality]  // in input order
  public var align: String  // data.align
  public var normalize: String  // data.normalize
  public var task: String  // task.kind
  public var classes: Int?  // outputs (classes, or regression targets); nil = not known yet

  public init(modalities: [Modality], align: String, normalize: String, task: String, classes: Int?) {
    self.modalities = modalities; self.align = align; self.normalize = normalize; self.task = task;
    self.classes = classes
  }

  /// Modalities laid side by side in the given order: each starts where the previous one ends.
  public init(
    modalities: [(name: String, features: Int, steps: Int)], align: String, normalize: String, task: String,
    classes: Int?
  ) {
    var column = 0
    var placed: [Modality] = []
    for m in modalities {
      placed.append(Modality(name: m.name, features: m.features, steps: m.steps, column: column))
      column += m.features
    }
    self.init(modalities: placed, align: align, normalize: normalize, task: task, classes: classes)
  }

  public var features: Int { modalities.reduce(0) { $0 + $1.features } }

  /// The first way this run's input (`self`) differs from the one the checkpoint recorded (`saved`), in
  /// words naming the config key, or nil when they match. `classes` is compared only when both are known.
  public func difference(from saved: InputRecord) -> String? {
    let names = modalities.map(\.name), savedNames = saved.modalities.map(\.name)
    if names != savedNames {
      let list = { (n: [String]) in "[" + n.joined(separator: ", ") + "]" }
      if Set(names) == Set(savedNames) {
        return
          "data.modalities is \(list(names)), the checkpoint was trained on \(list(savedNames)): the same modalities in another order would feed the weights the wrong columns (use the checkpoint's order)"
      }
      let added = names.filter { !savedNames.contains($0) }, missing = savedNames.filter { !names.contains($0) }
      let detail = [
        added.isEmpty ? nil : "new: \(added.joined(separator: ", "))",
        missing.isEmpty ? nil : "missing: \(missing.joined(separator: ", "))",
      ]
      .compactMap { $0 }.joined(separator: "; ")
      return "data.modalities is \(list(names)), the checkpoint was trained on \(list(savedNames)) (\(detail))"
    }
    for (m, s) in zip(modalities, saved.modalities) {
      if m.features != s.features {
        return
          "modality '\(m.name)' has \(m.features) features in this data, \(s.features) in the checkpoint's (is data.path the file it was trained on?)"
      }
      if m.steps != s.steps {
        return "modality '\(m.name)' is put on \(m.steps) steps (data.steps), the checkpoint was trained on \(s.steps)"
      }
      if m.column != s.column {
        return "modality '\(m.name)' starts at input column \(m.column), in the checkpoint at column \(s.column)"
      }
    }
    if align != saved.align { return "data.align is \(align), the checkpoint was trained with \(saved.align)" }
    if normalize != saved.normalize {
      return "data.normalize is \(normalize), the checkpoint was trained with \(saved.normalize)"
    }
    if task != saved.task { return "task.kind is \(task), the checkpoint was trained for \(saved.task)" }
    if let classes, let savedClasses = saved.classes, classes != savedClasses {
      return "task.classes is \(classes) here, the checkpoint was trained with \(savedClasses)"
    }
    return nil
  }

  /// JSON with sorted keys, as stored in the checkpoint (readable with `json.loads` in Python).
  public func json() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
  }

  public static func parse(json: String, source: String) throws -> InputRecord {
    do { return try JSONDecoder().decode(InputRecord.self, from: Data(json.utf8)) } catch {
      throw MMError("\(source): the 'input' attribute is not a valid input record (\(error)); is the file damaged?")
    }
  }
}
