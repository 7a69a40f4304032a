import MMConfig
import MMCore
import MMData
import MMDistributed
import MMHDF5
import TestSupport
import XCTest

/// Single-process loading of small hand-made files: statistics, normalisation, fusion order, missing
/// values, labels, and the contract errors.
final class ShardLoaderTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("shard") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// a: [4, 3, 1] values 10*i + t; b: [4, 2, 2]; labels 0 1 2 1; lengths/a = 3 2 1 0.
  func writeFile(
    _ name: String = "d.h5", a: [Float]? = nil, labels: [Int64] = [0, 1, 2, 1], edit: ((HDF5File) throws -> Void)? = nil
  ) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    let aValues = a ?? (0..<4).flatMap { i in (0..<3).map { t in Float(10 * i + t) } }
    try f.writeFloats("/modalities/a", aValues, shape: [4, 3, 1])
    try f.writeDoubles("/modalities/b", (0..<16).map { Double($0) }, shape: [4, 2, 2])
    try f.writeInt64s("/labels", labels, shape: [4])
    try f.writeInt64s("/lengths/a", [3, 2, 1, 0], shape: [4])
    try edit?(f)
    f.close()
    return path
  }

  func options(
    _ schema: DataSchema, names: [String] = [], normalize: Normalize = .none, missing: MissingPolicy = .error,
    task: TaskKind = .multiclass, classes: Int? = nil, steps: Int = 3, validation: [Bool] = [false, false, false, true]
  ) throws -> LoadOptions {
    let modalities = try schema.resolveModalities(names)
    return LoadOptions(
      modalities: modalities, steps: modalities.map { _ in steps }, align: .truncate, normalize: normalize,
      missing: missing, task: task, classes: classes, validationMask: validation)
  }

  func load(_ path: String, _ make: (DataSchema) throws -> LoadOptions) throws -> Shard {
    let file = try HDF5File(path: path)
    defer { file.close() }
    let schema = try DataSchema.read(file)
    return try ShardLoader.load(
      file: file, schema: schema, options: try make(schema), comm: SingleProcessCommunicator())
  }

  func testFusesInConfigOrderWithLengthsAndInferredClasses() throws {
    let path = try writeFile()
    let shard = try load(path) { try self.options($0, names: ["b", "a"]) }
    XCTAssertEqual(shard.features, 3, "b (2) then a (1)")
    XCTAssertEqual(shard.classes, 3, "max label 2 + 1")
    XCTAssertEqual(shard.targets, [0, 1, 2, 1])
    // sample 1, step 0: b = [4, 5] (values 0..15 row-major), a = 10
    XCTAssertEqual(Array(shard.fusedRows[(1 * 3 + 0) * 3..<(1 * 3 + 1) * 3]), [4, 5, 10])
    // sample 1, step 2: b has only 2 steps, a's length is 2: all zero
    XCTAssertEqual(Array(shard.fusedRows[(1 * 3 + 2) * 3..<(1 * 3 + 3) * 3]), [0, 0, 0])
    XCTAssertEqual(shard.lengths, [3, 2, 2, 2], "model length = longest aligned modality (b has 2 steps)")
  }

  func testZScoreUsesValidStepsOfTrainingRowsOnly() throws {
    let path = try writeFile()
    let shard = try load(path) { try self.options($0, names: ["a"], normalize: .zscore) }
    // Training rows 0..2 of a, valid steps: 0 1 2 | 10 11 | 20 → mean 44/6, population std
    let v: [Double] = [0, 1, 2, 10, 11, 20]
    let mean = v.reduce(0, +) / 6, std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6).squareRoot()
    XCTAssertEqual(Double(shard.statistics.mean[0]), mean, accuracy: 1e-5)
    XCTAssertEqual(Double(shard.statistics.std[0]), std, accuracy: 1e-4)
    XCTAssertEqual(Double(shard.fusedRows[3]), (10 - mean) / std, accuracy: 1e-5, "sample 1 step 0")
    XCTAssertEqual(shard.fusedRows[3 * 3 + 0], 0, "row 3 has a absent: stays zero")
  }

  func testMissingValuesErrorZeroOrMean() throws {
    var a = (0..<12).map { Float($0) }
    a[4] = .nan  // sample 1, step 1 (valid: length 2)
    let path = try writeFile(a: a)
    XCTAssertThrowsError(try load(path) { try self.options($0, names: ["a"]) }) { e in
      let text = "\(e)"
      XCTAssertTrue(text.contains("/modalities/a") && text.contains("sample 1") && text.contains("data.missing"), text)
    }
    let zero = try load(path) { try self.options($0, names: ["a"], missing: .zero) }
    XCTAssertEqual(zero.fusedRows[1 * 3 + 1], 0)
    let mean = try load(path) { try self.options($0, names: ["a"], missing: .mean) }
    XCTAssertEqual(
      mean.fusedRows[1 * 3 + 1], mean.statistics.mean[0], "imputed with the training mean (finite values only)")
    XCTAssertEqual(
      Double(mean.statistics.mean[0]), Double(0 + 1 + 2 + 3 + 6) / 5, accuracy: 1e-6, "rows 0-2, valid finite steps")
  }

  func testLabelOutOfRangeAndFloatLabelsForClassification() throws {
    let path = try writeFile(labels: [0, 1, 5, 1])
    XCTAssertThrowsError(try load(path) { try self.options($0, classes: 3) }) { e in
      XCTAssertTrue("\(e)".contains("/labels[2] = 5 is out of range for task.classes = 3"), "\(e)")
    }
    XCTAssertThrowsError(try load(path) { try self.options($0, task: .binary) }) { e in
      XCTAssertTrue("\(e)".contains("binary"), "\(e)")
    }
  }

  func testRegressionTargetsMatrix() throws {
    let path = dir.appendingPathComponent("r.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/modalities/a", [Float](repeating: 1, count: 4 * 3), shape: [4, 3, 1])
    try f.writeDoubles("/labels", [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4], shape: [4, 2])
    f.close()
    let shard = try load(path) { try self.options($0, task: .regression) }
    XCTAssertEqual(shard.targetWidth, 2)
    XCTAssertEqual(shard.classes, 2)
    XCTAssertEqual(shard.targets, [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])
    XCTAssertThrowsError(try load(path) { try self.options($0, task: .multiclass) }) { e in
      XCTAssertTrue("\(e)".contains("needs integer class ids"), "\(e)")
    }
  }

  func testLengthOutOfRangeNamesDatasetAndRow() throws {
    let path = try writeFile { f in try f.writeInt64s("/lengths/b", [2, 2, 3, 2], shape: [4]) }
    XCTAssertThrowsError(try load(path) { try self.options($0) }) { e in
      XCTAssertTrue("\(e)".contains("/lengths/b[2] = 3 is outside 0...2"), "\(e)")
    }
  }
}
