import MMConfig
import MMCore
import MMData
import MMDistributed
import MMHDF5
import TestSupport
import XCTest

/// Labels written the way a first-day user writes them: training names the fix, inspect warns and ends
/// with its verdict; one check serves both.
final class LabelHintTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("labels") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// text [6, 2, 1] and the given labels.
  func file(_ name: String, _ writeLabels: (HDF5File) throws -> Void) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/modalities/text", (0..<12).map(Float.init), shape: [6, 2, 1])
    try writeLabels(f)
    f.close()
    return path
  }

  func trainingError(_ path: String, task: TaskKind = .multiclass) -> String {
    do {
      let file = try HDF5File(path: path)
      defer { file.close() }
      let schema = try DataSchema.read(file)
      let o = LoadOptions(
        modalities: schema.modalities, steps: [2], align: .truncate, normalize: .none, missing: .error,
        task: task, classes: nil, validationMask: [Bool](repeating: false, count: 6))
      _ = try ShardLoader.load(file: file, schema: schema, options: o, comm: SingleProcessCommunicator())
      XCTFail("\(path) loaded for \(task)")
      return ""
    } catch {
      return "\(error)"
    }
  }

  func testWholeNumberFloatsSuggestAstype() throws {
    let path = try file("float.h5") { try $0.writeDoubles("/labels", [0, 1, 2, 1, 0, 2], shape: [6]) }
    XCTAssertTrue(trainingError(path).contains("labels.astype(\"int64\")"), trainingError(path))
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.warnings.count, 1, "\(report.warnings)")
    XCTAssertTrue(report.warnings.first?.contains("astype") ?? false)
    XCTAssertEqual(report.verdict, "usable: yes (1 warning)")
  }

  func testOneHotSuggestsArgmax() throws {
    let oneHot: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    let path = try file("onehot.h5") { try $0.writeDoubles("/labels", oneHot, shape: [6, 3]) }
    XCTAssertTrue(trainingError(path).contains("argmax(axis=1)"), trainingError(path))
    XCTAssertTrue(try Inspection.run(path: path).warnings.contains { $0.contains("one-hot") })
  }

  func testColumnLabelsSuggestSqueezing() throws {
    let path = try file("column.h5") { try $0.writeInt64s("/labels", [0, 1, 0, 1, 0, 1], shape: [6, 1]) }
    XCTAssertTrue(trainingError(path, task: .binary).contains("labels.squeeze(1)"), trainingError(path, task: .binary))
    XCTAssertTrue(try Inspection.run(path: path).warnings.contains { $0.contains("[N, 1]") })
  }

  func testRealTargetsGetNoHintAndACleanVerdict() throws {
    let path = try file("real.h5") { try $0.writeDoubles("/labels", [0.5, 1, 2, 1, 0, 2], shape: [6]) }
    let error = trainingError(path)
    XCTAssertTrue(error.contains("(or set task.kind: regression)") && !error.contains("astype"), error)
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.warnings, [])
    XCTAssertEqual(report.verdict, "usable: yes")
  }

  func testProblemsMakeTheVerdictNo() throws {
    let path = try file("negative.h5") { try $0.writeInt64s("/labels", [0, -1, 0, 1, 0, -2], shape: [6]) }
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.verdict, "usable: no (1 problem)", "\(report.problems)")
  }

  func testTimeMajorModalityIsNamedAsSuch() throws {
    let path = dir.appendingPathComponent("tnd.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/modalities/text", [Float](repeating: 0, count: 4 * 6 * 2), shape: [4, 6, 2])  // [T, N, D]
    try f.writeInt64s("/labels", [0, 1, 0, 1, 0, 1], shape: [6])
    f.close()
    XCTAssertThrowsError(try DataSchema.read(path: path)) { error in
      XCTAssertTrue(
        "\(error)".contains("looks like [T, N, D]") && "\(error)".contains("the contract is [N, T, D]"), "\(error)")
    }
  }
}

/// The data fingerprint: equal for the same file, and each kind of change named.
final class DataFingerprintTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("fingerprint") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func write(_ path: String, rows: Int, dtype64: Bool = false) throws {
    let f = try HDF5File(path: path, mode: .truncate)
    if dtype64 {
      try f.writeDoubles("/modalities/a", [Double](repeating: 1, count: rows * 2), shape: [rows, 2, 1])
    } else {
      try f.writeFloats("/modalities/a", [Float](repeating: 1, count: rows * 2), shape: [rows, 2, 1])
    }
    try f.writeInt64s("/labels", [Int64](repeating: 0, count: rows), shape: [rows])
    f.close()
  }

  func testSameFileSameFingerprintAndChangesAreNamed() throws {
    let path = dir.appendingPathComponent("d.h5").path
    try write(path, rows: 4)
    let first = try DataFingerprint.of(path: path)
    XCTAssertEqual(try DataFingerprint.of(path: path), first)
    XCTAssertNil(first.difference(from: first))
    XCTAssertEqual(first.schemaHash.count, 16)

    let other = dir.appendingPathComponent("e.h5").path
    try write(other, rows: 4)
    XCTAssertEqual(try DataFingerprint.of(path: other).schemaHash, first.schemaHash, "same names, shapes and dtypes")
    try write(other, rows: 5)
    let moreRows = try DataFingerprint.of(path: other)
    XCTAssertNotEqual(moreRows.schemaHash, first.schemaHash)
    XCTAssertTrue(moreRows.difference(from: first)?.contains("datasets (names, shapes or dtypes) differ") ?? false)
    try write(other, rows: 4, dtype64: true)
    XCTAssertNotEqual(try DataFingerprint.of(path: other).schemaHash, first.schemaHash, "dtype is part of the hash")

    var touched = first
    touched.mtime += 60
    XCTAssertTrue(
      touched.difference(from: first)?.hasPrefix("modified ") ?? false, touched.difference(from: first) ?? "nil")
  }
}
