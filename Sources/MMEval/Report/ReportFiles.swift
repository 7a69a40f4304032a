import Foundation
import MMCore

/// The files of RUN_DIR/report/: report.json, report.md, report.html and (given predictions)
/// predictions.csv. Written atomically (temporary file, then rename), so a reader never sees half a file.
public enum ReportFiles {
  public static let json = "report.json"
  public static let markdown = "report.md"
  public static let html = "report.html"
  public static let predictions = "predictions.csv"

  public static func encoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return e
  }

  public static func decoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return d
  }

  /// Writes report.json, report.md, report.html (and predictions.csv when given) into `dir`, creating it.
  /// Given predictions, fills `report.diagnostics` when it is nil, so report.json holds what the pages show.
  public static func write(_ report: Report, predictions: Predictions? = nil, to dir: URL) throws {
    var report = report
    if let predictions, report.diagnostics == nil {
      report.diagnostics = Diagnostics.compute(predictions: predictions, task: report.task, kind: report.kind)
    }
    try createDirectory(dir)
    try atomicWrite(try encoder().encode(report), to: dir.appendingPathComponent(json))
    try renderDocuments(report, to: dir)
    if let predictions {
      try atomicWrite(Data(predictions.csv().utf8), to: dir.appendingPathComponent(ReportFiles.predictions))
    }
  }

  /// Re-renders report.md and report.html from the report (what `mmtrain report RUN_DIR` does).
  public static func renderDocuments(_ report: Report, to dir: URL) throws {
    try atomicWrite(Data(MarkdownReport.render(report).utf8), to: dir.appendingPathComponent(markdown))
    try atomicWrite(Data(HTMLReport.render(report).utf8), to: dir.appendingPathComponent(html))
  }

  /// Reads report.json, naming the file and the fix on failure.
  public static func read(_ url: URL) throws -> Report {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw MMError("\(url.path): cannot read the report; is this a run directory written by mmtrain cv or train?")
    }
    let report: Report
    do { report = try decoder().decode(Report.self, from: data) } catch {
      throw MMError(
        "\(url.path): not a valid mmtrain report.json (\(describe(error))); re-run mmtrain cv --merge or train")
    }
    guard report.format == Report.currentFormat, report.formatVersion <= Report.currentVersion else {
      throw MMError(
        "\(url.path): format \(report.format) version \(report.formatVersion) is not an mmtrain report this version reads "
          + "(mmtrain-report ≤ \(Report.currentVersion)); use a newer mmtrain")
    }
    return report
  }

  static func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
      return "missing key '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
      return "wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
    case DecodingError.dataCorrupted(let ctx):
      return ctx.debugDescription
    default:
      return "\(error)"
    }
  }

  static func createDirectory(_ dir: URL) throws {
    do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
      throw MMError(
        "\(dir.path): cannot create the report directory (\(error.localizedDescription)); check checkpoint.dir")
    }
  }

  /// Writes through a temporary file and a rename (OutputFile): never replaces anything but a regular file.
  public static func atomicWrite(_ data: Data, to url: URL) throws {
    try OutputFile.write(data, to: url.path)
  }
}

/// Per-sample outputs: what predictions.csv holds (one row per sample, in sample order).
public struct Predictions: Equatable, Sendable {
  public enum Kind: Equatable, Sendable {
    /// class names (or ids) of the probability columns
    case classification(classNames: [String])
    /// target columns
    case regression(columns: Int)
  }
  public struct Row: Equatable, Sendable {
    public var index: Int
    /// The time step (per-step targets: `task.target: step`), nil otherwise.
    public var step: Int?
    public var group: Int?
    /// test fold (cv), nil otherwise
    public var fold: Int?
    /// class id, or the K targets; nil when the data has no /labels
    public var label: [Double]?
    /// class probabilities, or the K predicted values
    public var outputs: [Double]
    public init(index: Int, step: Int? = nil, group: Int?, fold: Int?, label: [Double]?, outputs: [Double]) {
      self.index = index
      self.step = step
      self.group = group
      self.fold = fold
      self.label = label
      self.outputs = outputs
    }
  }
  public var kind: Kind
  public var rows: [Row]
  /// Per-step targets: the steps T of every sample (rows are its valid steps); nil: one row per sample.
  public var stepCount: Int?
  public init(kind: Kind, rows: [Row], stepCount: Int? = nil) {
    self.kind = kind
    self.rows = rows
    self.stepCount = stepCount
  }

  /// `index,group,fold,label,prediction,prob_<class>...` (classification; prediction = most probable
  /// class) or `index,group,fold,label,prediction` (one target; label_j/prediction_j for K targets).
  /// Empty cells for an absent group, fold or label. Numbers with 9 significant digits. Per-step targets: a
  /// `step` column after `index`, one line per valid (sample, step).
  public func csv() -> String {
    var header = ["index"] + (stepCount != nil ? ["step"] : []) + ["group", "fold"]
    switch kind {
    case .classification(let names): header += ["label", "prediction"] + names.map { "prob_\(csvField($0))" }
    case .regression(let k) where k == 1: header += ["label", "prediction"]
    case .regression(let k): header += (0..<k).map { "label_\($0)" } + (0..<k).map { "prediction_\($0)" }
    }
    var lines = [header.joined(separator: ",")]
    lines.reserveCapacity(rows.count + 1)
    for r in rows {
      var f = [String(r.index)] + (stepCount != nil ? [r.step.map(String.init) ?? ""] : [])
      f += [r.group.map(String.init) ?? "", r.fold.map(String.init) ?? ""]
      switch kind {
      case .classification:
        f.append(r.label.map { String(Int($0[0])) } ?? "")
        f.append(String(argmax(r.outputs)))
        f += r.outputs.map(number)
      case .regression(let k):
        f += r.label.map { $0.map(number) } ?? [String](repeating: "", count: k)
        f += r.outputs.map(number)
      }
      lines.append(f.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private func number(_ v: Double) -> String { String(format: "%.9g", v) }
  private func csvField(_ s: String) -> String { s.replacingOccurrences(of: ",", with: "_") }
}
