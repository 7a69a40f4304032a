import MMData
import MMHDF5
import TestSupport
import XCTest

/// The contract's metadata checks: each bad file gets one message naming the file, the dataset and the fix.
final class DataSchemaTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("schema") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func file(_ build: (HDF5File) throws -> Void) throws -> String {
    let path = dir.appendingPathComponent("f\(UUID().uuidString.prefix(6)).h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try build(f)
    f.close()
    return path
  }

  func expectError(_ path: String, _ fragments: String..., line: UInt = #line) {
    XCTAssertThrowsError(try DataSchema.read(path: path), line: line) { e in
      let text = "\(e)"
      XCTAssertTrue(text.contains(path), "names the file: \(text)", line: line)
      for f in fragments { XCTAssertTrue(text.contains(f), "expected '\(f)' in: \(text)", line: line) }
    }
  }

  func testValidFileWithSharedLengthsGroupsAndClassNames() throws {
    let path = try file { f in
      try f.writeFloats("/modalities/z", [Float](repeating: 0, count: 2 * 3 * 4), shape: [2, 3, 4])
      try f.writeFloats("/modalities/a", [Float](repeating: 0, count: 2 * 5 * 1), shape: [2, 5, 1])
      try f.writeInt64s("/labels", [0, 1], shape: [2])
      try f.setAttribute("class_names", on: "/labels", strings: ["no", "yes"])
      try f.writeInt64s("/lengths", [1, 3], shape: [2])
      try f.writeInt64s("/groups", [7, 7], shape: [2])
    }
    let s = try DataSchema.read(path: path)
    XCTAssertEqual(s.count, 2)
    XCTAssertEqual(s.modalities.map(\.name), ["a", "z"], "sorted by name")
    XCTAssertEqual(s.modalities.map(\.features), [1, 4])
    XCTAssertEqual(s.lengths, .shared)
    XCTAssertTrue(s.hasGroups)
    XCTAssertEqual(s.classNames, ["no", "yes"])
    XCTAssertEqual(try s.resolveModalities(["z", "a"]).map(\.name), ["z", "a"])
    XCTAssertThrowsError(try s.resolveModalities(["z", "audo"])) { e in
      XCTAssertTrue("\(e)".contains("'audo'") && "\(e)".contains("has: a, z"), "\(e)")
    }
  }

  func testMissingLabels() throws {
    expectError(try file { try $0.writeFloats("/modalities/a", [1, 2], shape: [2, 1, 1]) }, "'/labels' not found")
  }

  func testMissingModalities() throws {
    expectError(try file { try $0.writeInt64s("/labels", [0, 1], shape: [2]) }, "'/modalities' not found")
  }

  func testRowCountMismatch() throws {
    expectError(
      try file { f in
        try f.writeFloats("/modalities/a", [1, 2, 3], shape: [3, 1, 1])
        try f.writeInt64s("/labels", [0, 1], shape: [2])
      }, "'/labels' has 2 rows", "same N")
  }

  func testWrongRank() throws {
    expectError(
      try file { f in
        try f.writeFloats("/modalities/a", [1, 2], shape: [2])
        try f.writeInt64s("/labels", [0, 1], shape: [2])
      }, "'/modalities/a' has rank 1", "[N, T, D]", "[N, D]", "[N, C, H, W]")
    expectError(
      try file { f in
        try f.writeFloats("/modalities/a", [Float](repeating: 0, count: 64), shape: [2, 2, 2, 2, 2, 2])
        try f.writeInt64s("/labels", [0, 1], shape: [2])
      }, "'/modalities/a' has rank 6")
  }

  /// [N, D] is a static vector (one step, never a length); [N, C, H, W] an image (one step of C·H·W features).
  func testStaticVectorsAndImages() throws {
    let schema = try file { f in
      try f.writeFloats("/modalities/age", [1, 2], shape: [2, 1])
      try f.writeFloats("/modalities/face", [Float](repeating: 0, count: 2 * 3 * 4 * 5), shape: [2, 3, 4, 5])
      try f.writeFloats("/modalities/text", [Float](repeating: 0, count: 2 * 6 * 2), shape: [2, 6, 2])
      try f.writeInt64s("/labels", [0, 1], shape: [2])
      try f.writeInt64s("/lengths", [3, 6], shape: [2])
    }
    let schemaValue = try DataSchema.read(path: schema)
    XCTAssertEqual(schemaValue.modalities.map(\.kind), [.vector, .image, .sequence])
    XCTAssertEqual(schemaValue.modalities.map(\.steps), [1, 1, 6])
    XCTAssertEqual(schemaValue.modalities.map(\.features), [1, 60, 2])
    XCTAssertEqual(schemaValue.modality("face")?.imageShape, [3, 4, 5])
    XCTAssertNil(schemaValue.lengthsDataset(for: "age"), "a static vector has no lengths, even with a shared /lengths")
    XCTAssertNil(schemaValue.lengthsDataset(for: "face"))
    XCTAssertEqual(schemaValue.lengthsDataset(for: "text"), "/lengths")
  }

  func testNonFloatFeatures() throws {
    expectError(
      try file { f in
        try f.writeInt64s("/modalities/a", [1, 2], shape: [2, 1, 1])
        try f.writeInt64s("/labels", [0, 1], shape: [2])
      }, "'/modalities/a' is an integer dataset of rank 3 [2, 1, 1]; integers are token ids [N, T]", "float32")
  }

  /// Integer [N, T] is a token-id modality: one column of ids per step, with lengths as a sequence's.
  func testTokenIds() throws {
    let path = try file { f in
      try f.writeInt64s("/modalities/text", [1, 2, 3, 4, 5, 6], shape: [2, 3])
      try f.writeInt64s("/lengths", [3, 2], shape: [2])
      try f.writeInt64s("/labels", [0, 1], shape: [2])
    }
    let schema = try DataSchema.read(path: path)
    XCTAssertEqual(schema.modality("text")?.kind, .tokens)
    XCTAssertEqual(schema.modality("text")?.steps, 3)
    XCTAssertEqual(schema.modality("text")?.features, 1)
    XCTAssertEqual(schema.lengthsDataset(for: "text"), "/lengths")
  }

  func testLengthsForUnknownModality() throws {
    expectError(
      try file { f in
        try f.writeFloats("/modalities/a", [1, 2], shape: [2, 1, 1])
        try f.writeInt64s("/labels", [0, 1], shape: [2])
        try f.writeInt64s("/lengths/b", [1, 1], shape: [2])
      }, "'/lengths/b' names no modality")
  }

  func testMissingFileAndNotHDF5() throws {
    let missing = dir.appendingPathComponent("nope.h5").path
    XCTAssertThrowsError(try DataSchema.read(path: missing)) { XCTAssertTrue("\($0)".contains(missing), "\($0)") }
    let text = dir.appendingPathComponent("text.h5").path
    try "hello".write(toFile: text, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try DataSchema.read(path: text)) {
      XCTAssertTrue("\($0)".contains("not an HDF5 file"), "\($0)")
    }
  }
}
