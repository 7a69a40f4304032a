import MMCore
import MMHDF5

/// The data file contract, read from metadata only (no feature values are read):
///
///     /modalities/<name>  float16|32|64 [N, T_name, D_name]   one per modality, at least one; or [N, D_name]:
///                         a static vector (one per sample: one step, never a length); [N, C, H, W] an image,
///                         [N, T, C, H, W] an image sequence; integer [N, T]: token ids (one column of ids per step)
///     /embeddings/<name>  optional: float [V, E] pretrained vectors of token modality <name>
///     /labels             integer [N] class ids, or float [N] / [N, K] regression targets; with task.target: step,
///                         integer [N, T] class ids, or float [N, T] / [N, T, K] targets, one per time step
///     /lengths            optional: integer [N] for all modalities, or group /lengths/<name> [N] each
///     /groups             optional: integer [N] subject/speaker/session id
///     /labels@class_names optional: strings
public struct DataSchema: Equatable {
  public struct Modality: Equatable {
    public let name: String
    public let steps: Int  // T_name (1 for a static vector)
    public let features: Int  // D_name
    public let dtype: HDF5DType
    public var kind: ModalityKind = .sequence
    /// An image's [C, H, W] (its C·H·W features, channel-major, are its one step).
    public var imageShape: [Int]? = nil
    public var dataset: String { "/modalities/\(name)" }

    /// The dataset's shape after N: [T, D], [D], [C, H, W] or [T, C, H, W].
    public var shape: [Int] {
      switch kind {
      case .sequence: return [steps, features]
      case .vector: return [features]
      case .image: return imageShape!
      case .imageSequence: return [steps] + imageShape!
      case .tokens: return [steps]
      }
    }
  }
  /// What a modality's dataset holds, read from its rank.
  public enum ModalityKind: String, Equatable, Sendable {
    case sequence  // [N, T, D]: steps, with lengths
    case vector  // [N, D]: one static vector per sample (age, a questionnaire, a pooled embedding)
    case image  // [N, C, H, W]: one image per sample
    case imageSequence  // [N, T, C, H, W]: frames (video), with lengths as a sequence's
    case tokens  // integer [N, T]: word indices (one id per step, read as one float column), lengths as a sequence's

    /// Whether it has steps and lengths (a sequence of features or of frames).
    public var hasSteps: Bool { self == .sequence || self == .imageSequence || self == .tokens }

    /// "static vector", "image".
    public var description: String {
      switch self {
      case .vector: return "static vector"
      case .imageSequence: return "image sequence"
      case .tokens: return "token-id sequence"
      default: return rawValue
      }
    }
  }
  public enum Lengths: Equatable {
    case none  // every step valid
    case shared  // /lengths [N]
    case perModality([String])  // /lengths/<name> [N] for these names
  }

  public let path: String
  public let count: Int  // N
  public let modalities: [Modality]  // sorted by name
  public let labelShape: [Int]  // [N] or [N, K]; per-step labels [N, T] or [N, T, K]
  public let labelDType: HDF5DType
  public let lengths: Lengths
  public let hasGroups: Bool
  public let classNames: [String]?

  public var labelsAreIntegers: Bool { if case .integer = labelDType { return true } else { return false } }
  public var labelWidth: Int { labelShape.count == 2 ? labelShape[1] : 1 }
  /// False for a file read with `requireLabels: false` that has no /labels.
  public var hasLabels: Bool { !labelShape.isEmpty }

  public func modality(_ name: String) -> Modality? { modalities.first { $0.name == name } }

  /// Dataset holding the lengths of `modality`, or nil when all its steps are valid.
  public func lengthsDataset(for modality: String) -> String? {
    guard hasSteps(modality) else { return nil }  // a static vector: its one step is valid
    switch lengths {
    case .none: return nil
    case .shared: return "/lengths"
    case .perModality(let names): return names.contains(modality) ? "/lengths/\(modality)" : nil
    }
  }

  /// Whether `modality` has lengths at all: a static vector has none (always one valid step).
  func hasSteps(_ modality: String) -> Bool { (self.modality(modality)?.kind ?? .sequence).hasSteps }

  /// Opens and validates `path` against the contract.
  public static func read(path: String) throws -> DataSchema {
    let file = try HDF5File(path: path, mode: .readOnly)
    defer { file.close() }
    return try read(file)
  }

  /// `requireLabels: false` accepts a file without /labels (`mmtrain predict`): `labelShape` is then [].
  public static func read(_ file: HDF5File, requireLabels: Bool = true) throws -> DataSchema {
    let path = file.path
    guard file.isGroup("/modalities") else {
      throw MMError("\(path): group '/modalities' not found (put each modality in /modalities/<name> as [N, T, D])")
    }
    let names = try file.members(ofGroup: "/modalities")
    guard !names.isEmpty else {
      throw MMError("\(path): '/modalities' is empty (at least one modality [N, T, D] is needed)")
    }
    var modalities: [Modality] = []
    var n: Int? = nil
    let labelRows = file.isDataset("/labels") ? (try? file.datasetInfo("/labels"))?.shape.first : nil
    func checkN(_ dataset: String, _ rows: Int) throws {
      if let n, n != rows {
        throw MMError(
          "\(path): '\(dataset)' has \(rows) rows but '\(modalities.first?.dataset ?? "/labels")' has \(n) (every dataset needs the same N)"
        )
      }
      n = rows
    }
    for name in names.sorted() {
      let ds = "/modalities/\(name)"
      guard file.isDataset(ds) else { throw MMError("\(path): '\(ds)' is not a dataset (expected float [N, T, D])") }
      let info = try file.datasetInfo(ds)
      guard (2...5).contains(info.shape.count) else {
        throw MMError(
          "\(path): '\(ds)' has rank \(info.shape.count) \(info.shape) (expected a sequence [N, T, D], a static vector [N, D], "
            + "an image [N, C, H, W] or an image sequence [N, T, C, H, W])")
      }
      if case .integer = info.dtype {  // token ids [N, T]: one column of ids, which the embedding looks up
        guard info.shape.count == 2 else {
          throw MMError(
            "\(path): '\(ds)' is an integer dataset of rank \(info.shape.count) \(info.shape); integers are token ids "
              + "[N, T] (features [N, T, D] are floats: write them as float32)")
        }
        guard info.shape[1] > 0 else { throw MMError("\(path): '\(ds)' has an empty dimension \(info.shape)") }
        try checkN(ds, info.shape[0])
        modalities.append(Modality(name: name, steps: info.shape[1], features: 1, dtype: info.dtype, kind: .tokens))
        continue
      }
      guard case .float = info.dtype else {
        throw MMError(
          "\(path): '\(ds)' has dtype \(info.dtype) (expected float32, float64 or float16, or integer token ids)")
      }
      if info.shape.count >= 4 {  // an image [N, C, H, W]: one step of C·H·W features; frames [N, T, C, H, W]: T steps
        guard info.shape.dropFirst().allSatisfy({ $0 > 0 }) else {
          throw MMError("\(path): '\(ds)' has an empty dimension \(info.shape)")
        }
        try checkN(ds, info.shape[0])
        let frames = info.shape.count == 5, image = Array(info.shape.suffix(3))
        modalities.append(
          Modality(
            name: name, steps: frames ? info.shape[1] : 1, features: image.reduce(1, *), dtype: info.dtype,
            kind: frames ? .imageSequence : .image, imageShape: image))
        continue
      }
      if info.shape.count == 2 {  // a static vector: one step of D features
        guard info.shape[1] > 0 else { throw MMError("\(path): '\(ds)' has an empty dimension \(info.shape)") }
        try checkN(ds, info.shape[0])
        modalities.append(Modality(name: name, steps: 1, features: info.shape[1], dtype: info.dtype, kind: .vector))
        continue
      }
      guard info.shape[1] > 0, info.shape[2] > 0 else {
        throw MMError("\(path): '\(ds)' has an empty dimension \(info.shape)")
      }
      if let expected = labelRows ?? n, info.shape[0] != expected, info.shape[1] == expected {
        throw MMError(
          "\(path): '\(ds)' has shape \(info.shape), which looks like [T, N, D] with N = \(expected) samples; the contract is [N, T, D] (write it as x.transpose(1, 0, 2))"
        )
      }
      try checkN(ds, info.shape[0])
      modalities.append(Modality(name: name, steps: info.shape[1], features: info.shape[2], dtype: info.dtype))
    }
    guard file.isDataset("/labels") else {
      guard !requireLabels else {
        throw MMError("\(path): dataset '/labels' not found (every data file needs /labels [N] or [N, K])")
      }
      return try finish(file, path: path, n: n!, modalities: modalities, labelShape: [], labelDType: .other("none"))
    }
    let labels = try file.datasetInfo("/labels")
    guard (1...3).contains(labels.shape.count) else {
      throw MMError(
        "\(path): '/labels' has rank \(labels.shape.count) \(labels.shape) (expected [N] or [N, K]; per-step labels [N, T] or [N, T, K])"
      )
    }
    switch labels.dtype {
    case .integer, .float: break
    default: throw MMError("\(path): '/labels' has dtype \(labels.dtype) (expected integer class ids or float targets)")
    }
    try checkN("/labels", labels.shape[0])
    return try finish(
      file, path: path, n: n!, modalities: modalities, labelShape: labels.shape, labelDType: labels.dtype)
  }

  /// Lengths, groups and class names, once the modalities and labels are known.
  private static func finish(
    _ file: HDF5File, path: String, n: Int?, modalities: [Modality], labelShape: [Int], labelDType: HDF5DType
  ) throws -> DataSchema {
    var lengths = Lengths.none
    if file.isDataset("/lengths") {
      try checkIntegerVector(file, "/lengths", n!)
      lengths = .shared
    } else if file.isGroup("/lengths") {
      let members = try file.members(ofGroup: "/lengths")
      for m in members {
        guard modalities.contains(where: { $0.name == m }) else {
          throw MMError(
            "\(path): '/lengths/\(m)' names no modality (have: \(modalities.map(\.name).joined(separator: ", ")))")
        }
        try checkIntegerVector(file, "/lengths/\(m)", n!)
      }
      lengths = .perModality(members)
    }
    let hasGroups = file.isDataset("/groups")
    if hasGroups { try checkIntegerVector(file, "/groups", n!) }
    let classNames =
      file.isDataset("/labels") && file.hasAttribute("class_names", on: "/labels")
      ? try file.stringsAttribute("class_names", on: "/labels") : nil
    return DataSchema(
      path: path, count: n!, modalities: modalities, labelShape: labelShape, labelDType: labelDType,
      lengths: lengths, hasGroups: hasGroups, classNames: classNames)
  }

  private static func checkIntegerVector(_ file: HDF5File, _ ds: String, _ n: Int) throws {
    let info = try file.datasetInfo(ds)
    guard info.shape.count == 1 else {
      throw MMError("\(file.path): '\(ds)' has rank \(info.shape.count) \(info.shape) (expected [N] = [\(n)])")
    }
    guard case .integer = info.dtype else {
      throw MMError("\(file.path): '\(ds)' has dtype \(info.dtype) (expected integers)")
    }
    guard info.shape[0] == n else {
      throw MMError(
        "\(file.path): '\(ds)' has \(info.shape[0]) rows but '/labels' has \(n) (every dataset needs the same N)")
    }
  }

  /// The model's modality order: `requested` (config order) if given, else every modality sorted by name.
  public func resolveModalities(_ requested: [String]) throws -> [Modality] {
    if requested.isEmpty { return modalities }
    var seen = Set<String>()
    return try requested.map { name in
      guard seen.insert(name).inserted else { throw MMError("data.modalities lists '\(name)' twice") }
      guard let m = modality(name) else {
        throw MMError(
          "data.modalities names '\(name)', which \(path) does not have (has: \(modalities.map(\.name).joined(separator: ", ")))"
        )
      }
      return m
    }
  }
}
