import MMHDF5
import TestSupport
import XCTest

/// Datasets written with HDF5File read back identically, whole and by rows.
final class RoundTripTests: XCTestCase {
  private let shapes: [[Int]] = [[], [5], [3, 4], [2, 3, 4]]

  private func temporaryFile() -> String {
    makeTemporaryDirectory("hdf5-roundtrip").appendingPathComponent("roundtrip.h5").path
  }

  func testNumericDatasetsRoundTripInEveryShape() throws {
    let path = temporaryFile()
    let file = try HDF5File(path: path, mode: .truncate)
    for shape in shapes {
      let count = shape.reduce(1, *)
      try file.writeFloats("/floats/r\(shape.count)", (0..<count).map { Float($0) * 0.5 - 3 }, shape: shape)
      try file.writeDoubles("/doubles/r\(shape.count)", (0..<count).map { Double($0) / 3 }, shape: shape)
      try file.writeInt64s("/ints/r\(shape.count)", (0..<count).map { Int64($0) * -1_000_000_007 }, shape: shape)
    }
    file.close()

    let reopened = try HDF5File(path: path)
    for shape in shapes {
      let count = shape.reduce(1, *)
      XCTAssertEqual(try reopened.readFloats("/floats/r\(shape.count)"), (0..<count).map { Float($0) * 0.5 - 3 })
      XCTAssertEqual(try reopened.readDoubles("/doubles/r\(shape.count)"), (0..<count).map { Double($0) / 3 })
      XCTAssertEqual(try reopened.readInt64s("/ints/r\(shape.count)"), (0..<count).map { Int64($0) * -1_000_000_007 })
      let floatsInfo = try reopened.datasetInfo("/floats/r\(shape.count)")
      XCTAssertEqual(floatsInfo, HDF5DatasetInfo(shape: shape, dtype: .float(bits: 32)))
      XCTAssertEqual(try reopened.datasetInfo("/doubles/r\(shape.count)").dtype, .float(bits: 64))
      XCTAssertEqual(try reopened.datasetInfo("/ints/r\(shape.count)").dtype, .integer(bits: 64, signed: true))
    }
  }

  func testReadsConvertBetweenNumericTypes() throws {
    let file = try HDF5File(path: temporaryFile(), mode: .truncate)
    try file.writeInt64s("/ints", [-2, 0, 7], shape: [3])
    try file.writeDoubles("/doubles", [0.5, -1.25], shape: [2])
    XCTAssertEqual(try file.readFloats("/ints"), [-2, 0, 7])
    XCTAssertEqual(try file.readDoubles("/ints"), [-2, 0, 7])
    XCTAssertEqual(try file.readFloats("/doubles"), [0.5, -1.25])
    XCTAssertThrowsError(try file.readInt64s("/doubles")) { error in
      XCTAssertTrue("\(error)".contains("float64"), "\(error)")
    }
  }

  func testRowHyperslabEqualsTheSlice() throws {
    let file = try HDF5File(path: temporaryFile(), mode: .truncate)
    let values = (0..<30).map { Float($0) }  // (5, 3, 2): row r holds 6r ..< 6r + 6
    try file.writeFloats("/x", values, shape: [5, 3, 2])
    XCTAssertEqual(try file.readFloats("/x", rows: 1..<3), Array(values[6..<18]))
    XCTAssertEqual(try file.readDoubles("/x", rows: 4..<5), (24..<30).map { Double($0) })
    XCTAssertEqual(try file.readFloats("/x", rows: 2..<2), [])
    XCTAssertEqual(try file.readFloats("/x", rows: 0..<5), values)

    var buffer = [Float](repeating: -1, count: 12)
    try buffer.withUnsafeMutableBufferPointer { try file.readFloats("/x", rows: 1..<3, into: $0) }
    XCTAssertEqual(buffer, Array(values[6..<18]))
    var whole = [Float](repeating: -1, count: 30)
    try whole.withUnsafeMutableBufferPointer { try file.readFloats("/x", rows: nil, into: $0) }
    XCTAssertEqual(whole, values)
  }

  func testBadRowsAndBufferSizesThrow() throws {
    let file = try HDF5File(path: temporaryFile(), mode: .truncate)
    try file.writeFloats("/x", [Float](repeating: 0, count: 30), shape: [5, 3, 2])
    try file.writeFloats("/scalar", [1], shape: [])
    XCTAssertThrowsError(try file.readFloats("/x", rows: 3..<6)) { error in
      XCTAssertTrue("\(error)".contains("out of range"), "\(error)")
    }
    XCTAssertThrowsError(try file.readFloats("/x", rows: -1..<2))
    XCTAssertThrowsError(try file.readFloats("/scalar", rows: 0..<1))
    var small = [Float](repeating: 0, count: 11)
    XCTAssertThrowsError(try small.withUnsafeMutableBufferPointer { try file.readFloats("/x", rows: 1..<3, into: $0) })
  }

  func testWritesCheckShapeAndReplaceExistingDatasets() throws {
    let file = try HDF5File(path: temporaryFile(), mode: .truncate)
    XCTAssertThrowsError(try file.writeFloats("/x", [1, 2, 3], shape: [2, 2]))
    try file.writeFloats("/x", [1, 2, 3], shape: [3])
    try file.writeFloats("/x", [4, 5], shape: [1, 2])
    XCTAssertEqual(try file.datasetInfo("/x").shape, [1, 2])
    XCTAssertEqual(try file.readFloats("/x"), [4, 5])
    try file.writeInt64s("/empty", [], shape: [0, 3])
    XCTAssertEqual(try file.datasetInfo("/empty").shape, [0, 3])
    XCTAssertEqual(try file.readInt64s("/empty"), [])
  }

  func testGroupsAndNavigation() throws {
    let file = try HDF5File(path: temporaryFile(), mode: .truncate)
    XCTAssertFalse(file.exists("/a/b/c"))
    try file.createGroup("/g/inner")
    try file.createGroup("/g/inner")  // existing group: no error
    try file.writeFloats("/g/zeta", [1], shape: [1])
    try file.writeFloats("/g/alpha", [1], shape: [1])
    try file.writeFloats("/deep/er/x", [1], shape: [])  // parents created on the way
    XCTAssertEqual(try file.members(ofGroup: "/g"), ["alpha", "inner", "zeta"])
    XCTAssertEqual(try file.members(ofGroup: "/"), ["deep", "g"])
    XCTAssertTrue(file.exists("/"))
    XCTAssertTrue(file.exists("/deep/er/x"))
    XCTAssertTrue(file.exists("deep/er/x/"))
    XCTAssertFalse(file.exists("/g/alpha/below"))
    XCTAssertTrue(file.isGroup("/g/inner"))
    XCTAssertFalse(file.isGroup("/g/alpha"))
    XCTAssertTrue(file.isDataset("/g/alpha"))
    XCTAssertFalse(file.isDataset("/nothing"))
    XCTAssertThrowsError(try file.createGroup("/g/alpha"))
    XCTAssertThrowsError(try file.members(ofGroup: "/g/alpha"))
  }

  func testReadWriteModeAppendsAndReadOnlyRefusesWrites() throws {
    let path = temporaryFile()
    try HDF5File(path: path, mode: .truncate).writeFloats("/a", [1], shape: [1])
    let appending = try HDF5File(path: path, mode: .readWrite)
    try appending.writeFloats("/b", [2], shape: [1])
    try appending.flush()
    appending.close()
    appending.close()  // idempotent

    let reader = try HDF5File(path: path)
    XCTAssertEqual(try reader.readFloats("/a") + reader.readFloats("/b"), [1, 2])
    try reader.flush()
    XCTAssertThrowsError(try reader.writeFloats("/c", [3], shape: [1])) { error in
      XCTAssertTrue("\(error)".contains("read-only"), "\(error)")
    }
    reader.close()
    XCTAssertThrowsError(try reader.readFloats("/a")) { error in
      XCTAssertTrue("\(error)".contains("after close()"), "\(error)")
    }
  }
}
