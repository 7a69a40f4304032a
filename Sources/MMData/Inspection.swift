import Foundation
import MMHDF5
import MMTensor

/// `mmtrain inspect FILE`: validates a file against the contract and summarises it. Reads everything
/// (single process), chunk by chunk.
public struct Inspection {
  public let schema: DataSchema
  public let lines: [String]
  public let problems: [String]  // non-empty: the file is not usable as it is
  public let warnings: [String]  // usable, but probably not as meant (labels a classification run refuses)
  public var isValid: Bool { problems.isEmpty }

  /// The last line of the report: "usable: yes", "usable: yes (1 warning)", "usable: no (2 problems)", and
  /// for a file without /labels "usable for predict (no /labels: not for training)".
  public var verdict: String {
    func count(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }
    if !isValid { return "usable: no (\(count(problems.count, "problem")))" }
    let usable = schema.hasLabels ? "usable: yes" : "usable for predict (no /labels: not for training)"
    return warnings.isEmpty ? usable : "\(usable) (\(count(warnings.count, "warning")))"
  }

  public static func run(path: String) throws -> Inspection {
    let file = try HDF5File(path: path, mode: .readOnly)
    defer { file.close() }
    let schema = try DataSchema.read(file, requireLabels: false)  // unlabelled: still a file to predict on
    var lines: [String] = [], problems: [String] = [], warnings: [String] = []
    let n = schema.count
    lines.append("file        \(path)")
    lines.append("samples     \(n)")
    lines.append(
      "modalities  \(schema.modalities.count) (model order by default: \(schema.modalities.map(\.name).joined(separator: ", ")))"
    )
    for m in schema.modalities {
      var lengths = [Int](repeating: m.steps, count: n)
      if let ds = schema.lengthsDataset(for: m.name) {
        lengths = try file.readInt64s(ds).map(Int.init)
        if let i = lengths.firstIndex(where: { $0 < 0 || $0 > m.steps }) {
          problems.append("\(ds)[\(i)] = \(lengths[i]) is outside 0...\(m.steps)")
          lengths = lengths.map { min(max($0, 0), m.steps) }
        }
      }
      var tokens = ""  // token ids: the largest, the pretrained vectors, and any id outside them
      if m.kind == .tokens {
        let table = "/embeddings/\(m.name)"
        let vectors = file.isDataset(table) ? try file.datasetInfo(table).shape : nil
        do {
          let largest = try TokenIds.scan(
            file, m, rows: 0..<n, validSteps: { lengths[$0] }, vocabulary: vectors?.first,
            vocabularySource: "the rows of \(table)")
          tokens =
            " token ids, largest \(largest)"
            + (vectors.map { ", pretrained vectors \(table) [\($0.map(String.init).joined(separator: ", "))]" } ?? "")
            + ";"
        } catch {
          problems.append("\(error)")
        }
      }
      let nonFinite = m.kind == .tokens ? 0 : try countNonFinite(file, m, lengths)
      let absent = lengths.filter { $0 == 0 }.count
      let mean = lengths.isEmpty ? 0 : Double(lengths.reduce(0, +)) / Double(lengths.count)
      let shape = "[" + ([n] + m.shape).map(String.init).joined(separator: ", ") + "] \(m.dtype)"
      lines.append(
        "  " + m.name.padding(toLength: max(10, m.name.count), withPad: " ", startingAt: 0) + " "
          + shape.padding(toLength: max(26, shape.count), withPad: " ", startingAt: 0)
          + (!m.kind.hasSteps ? " \(m.kind.description), NaN/Inf \(nonFinite)" : "")
          + tokens
          + (!m.kind.hasSteps
            ? ""
            : String(
              format: " lengths min %d mean %.1f max %d, absent %d, NaN/Inf %d", lengths.min() ?? 0, mean,
              lengths.max() ?? 0, absent, nonFinite)))
      if nonFinite > 0 {
        problems.append(
          "\(m.dataset) has \(nonFinite) NaN/Inf values in valid steps (training needs data.missing: zero or mean)")
      }
    }
    lines.append(
      "lengths     "
        + {
          switch schema.lengths {
          case .none: return "none (every step valid)"
          case .shared: return "/lengths (shared by all modalities)"
          case .perModality(let names): return "/lengths/<name> for \(names.joined(separator: ", "))"
          }
        }())
    lines.append(
      "labels      "
        + (schema.hasLabels
          ? "\(schema.labelDType) \(schema.labelShape)"
          : "none (no /labels: mmtrain predict can use the file, train and evaluate cannot)"))
    if schema.hasLabels && schema.labelsAreIntegers && schema.labelShape.count == 1 {
      let ids = try file.readInt64s("/labels")
      var counts: [Int64: Int] = [:]
      for id in ids { counts[id, default: 0] += 1 }
      for (id, c) in counts.sorted(by: { $0.key < $1.key }) {
        let name = schema.classNames.flatMap { id >= 0 && Int(id) < $0.count ? " (\($0[Int(id)]))" : nil } ?? ""
        lines.append(
          String(format: "  class %lld%@: %d (%.1f%%)", id, name as NSString, c, 100 * Double(c) / Double(max(n, 1))))
      }
      if let bad = ids.first(where: { $0 < 0 }) { problems.append("/labels has a negative class id \(bad)") }
      if let names = schema.classNames, let bad = ids.first(where: { $0 >= names.count }) {
        problems.append(
          "/labels has class id \(bad), but /labels@class_names names \(names.count) classes (ids 0...\(names.count - 1)); fix the label or add its name to class_names"
        )
      }
      if counts.count == 1, let only = counts.keys.first {
        let name = schema.classNames.flatMap { only >= 0 && Int(only) < $0.count ? " (\($0[Int(only)]))" : nil } ?? ""
        warnings.append("only class \(only)\(name) occurs: a classifier cannot learn from it")
      }
    } else if schema.hasLabels {
      let v = try file.readDoubles("/labels")
      let finite = v.filter(\.isFinite)
      let mean = finite.reduce(0, +) / Double(max(finite.count, 1))
      lines.append(String(format: "  targets min %.4g mean %.4g max %.4g", finite.min() ?? 0, mean, finite.max() ?? 0))
      if finite.count != v.count { problems.append("/labels has \(v.count - finite.count) NaN/Inf targets") }
      warnings += LabelHints.warnings(schema, v)
    }
    if schema.hasGroups {
      let g = try file.readInt64s("/groups")
      lines.append("groups      \(Set(g).count) distinct ids")
    }
    return Inspection(schema: schema, lines: lines, problems: problems, warnings: warnings)
  }

  static func countNonFinite(_ file: HDF5File, _ m: DataSchema.Modality, _ lengths: [Int]) throws -> Int {
    let rowSize = m.steps * m.features
    var count = 0
    try ChunkedRows.forEach(file, m.dataset, rows: 0..<lengths.count, rowSize: rowSize) { start, n, raw in
      for r in 0..<n {
        let src = raw + r * rowSize
        for i in 0..<(lengths[start + r] * m.features) where !src[i].isFinite { count += 1 }
      }
    }
    return count
  }
}
