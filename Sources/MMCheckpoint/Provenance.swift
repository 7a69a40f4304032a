import Foundation
import MMData
import MMHDF5

/// What a checkpoint knows about how it came to be, beyond the weights and the position:
///
///     attributes on /     mmtrain_version, input (InputRecord as JSON), data_path, data_size, data_mtime,
///                         data_schema_hash (DataFingerprint), validation_seed, validation_fraction,
///                         class_names (classification: the training file's names, else the ids),
///                         valid_lengths (JSON: per modality with /lengths in the training file, the mean
///                         valid steps of the training rows and the T steps the file holds), blas_kernel
///                         (the OpenBLAS kernel that trained it: `dist.world_invariant`'s bits hold for it)
///     /split/validation   int64 [V] the validation rows (global sample indices, ascending)
///
/// so a user can evaluate on exactly the split the run held out, and a new run can tell whether it
/// continues on the same input.
public struct Provenance: Equatable {
  public var version: String
  public var input: InputRecord
  public var dataPath: String
  public var data: DataFingerprint
  public var validationRows: [Int]
  public var validationSeed: UInt64
  public var validationFraction: Double
  /// Classification: the names of the output classes (predict's columns, whatever a later data file holds).
  public var classNames: [String]?
  /// Per modality that had lengths in the training file: the training rows' mean valid steps of the T steps
  /// the file holds. Inference on a file without lengths for it would read the padding as data.
  public var validLengths: [String: ValidLength]?
  /// The OpenBLAS kernel (sgemm) of the training machine, e.g. "Haswell"; nil in checkpoints written before it
  /// was recorded. Bit-identical results (`dist.world_invariant`) hold on the same binary and kernel only.
  public var blasKernel: String?

  public struct ValidLength: Codable, Equatable, Sendable {
    public var mean: Double
    public var steps: Int
    public init(mean: Double, steps: Int) { self.mean = mean; self.steps = steps }
  }

  public init(
    version: String = MMTrainVersion.string, input: InputRecord, dataPath: String, data: DataFingerprint,
    validationRows: [Int], validationSeed: UInt64, validationFraction: Double, classNames: [String]? = nil,
    validLengths: [String: ValidLength]? = nil, blasKernel: String? = nil
  ) {
    self.version = version; self.input = input; self.dataPath = dataPath; self.data = data
    self.validationRows = validationRows; self.validationSeed = validationSeed;
    self.validationFraction = validationFraction
    self.classNames = classNames; self.validLengths = validLengths; self.blasKernel = blasKernel
  }

  func write(to file: HDF5File) throws {
    try file.setAttribute("mmtrain_version", on: "/", string: version)
    try file.setAttribute("input", on: "/", string: input.json())
    try file.setAttribute("data_path", on: "/", string: dataPath)
    try file.setAttribute("data_size", on: "/", int: data.size)
    try file.setAttribute("data_mtime", on: "/", double: data.mtime)
    try file.setAttribute("data_schema_hash", on: "/", string: data.schemaHash)
    try file.setAttribute("validation_seed", on: "/", uint64s: [validationSeed])
    try file.setAttribute("validation_fraction", on: "/", double: validationFraction)
    try file.writeInt64s("/split/validation", validationRows.map(Int64.init), shape: [validationRows.count])
    if let classNames { try file.setAttribute("class_names", on: "/", strings: classNames) }
    if let blasKernel { try file.setAttribute("blas_kernel", on: "/", string: blasKernel) }
    if let validLengths, let json = try? JSONEncoder.sorted.encode(validLengths) {
      try file.setAttribute("valid_lengths", on: "/", string: String(decoding: json, as: UTF8.self))
    }
  }

  /// nil for checkpoints written before mmtrain recorded it (format version 1).
  static func read(from file: HDF5File, path: String) throws -> Provenance? {
    guard file.hasAttribute("input", on: "/") else { return nil }
    return Provenance(
      version: try file.stringAttribute("mmtrain_version", on: "/"),
      input: try InputRecord.parse(json: try file.stringAttribute("input", on: "/"), source: path),
      dataPath: try file.stringAttribute("data_path", on: "/"),
      data: DataFingerprint(
        size: try file.intAttribute("data_size", on: "/"), mtime: try file.doubleAttribute("data_mtime", on: "/"),
        schemaHash: try file.stringAttribute("data_schema_hash", on: "/")),
      validationRows: try file.readInt64s("/split/validation").map(Int.init),
      validationSeed: try file.uint64sAttribute("validation_seed", on: "/").first ?? 0,
      validationFraction: try file.doubleAttribute("validation_fraction", on: "/"),
      classNames: file.hasAttribute("class_names", on: "/") ? try file.stringsAttribute("class_names", on: "/") : nil,
      validLengths: file.hasAttribute("valid_lengths", on: "/")
        ? try? JSONDecoder().decode(
          [String: ValidLength].self, from: Data(try file.stringAttribute("valid_lengths", on: "/").utf8))
        : nil,
      blasKernel: file.hasAttribute("blas_kernel", on: "/") ? try file.stringAttribute("blas_kernel", on: "/") : nil)
  }
}

extension JSONEncoder {
  /// Sorted keys: the same text for the same value (attributes a user may diff).
  static var sorted: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
  }
}
