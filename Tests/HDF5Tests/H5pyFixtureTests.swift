import MMHDF5
import TestSupport
import XCTest

/// Reads Tests/Fixtures/h5py_contract.h5, written by make_h5py_fixture.py with h5py, and recomputes every value
/// from the script's formulas: the contract between files users make in Python and what mmtrain reads.
final class H5pyFixtureTests: XCTestCase {
  private let n = 6

  private func openFixture() throws -> HDF5File {
    try HDF5File(path: fixturesDirectory().appendingPathComponent("h5py_contract.h5").path)
  }

  // The script's formulas, flattened row-major.
  private func text() -> [Float] { (0..<(n * 4 * 3)).map { Float(Double($0) / 10) } }
  private func audio() -> [Double] { (0..<(n * 5 * 2)).map { Double($0) / 100 } }
  private func vision() -> [Float] { (0..<(n * 4 * 2)).map { Float($0 % 8) * 0.25 } }

  func testLayoutShapesAndTypes() throws {
    let file = try openFixture()
    XCTAssertEqual(try file.members(ofGroup: "/"), ["groups", "labels", "lengths", "modalities"])
    XCTAssertEqual(try file.members(ofGroup: "/modalities"), ["audio", "text", "vision"])
    let info = { (path: String) in try file.datasetInfo(path) }
    XCTAssertEqual(try info("/modalities/text"), HDF5DatasetInfo(shape: [6, 4, 3], dtype: .float(bits: 32)))
    XCTAssertEqual(try info("/modalities/audio"), HDF5DatasetInfo(shape: [6, 5, 2], dtype: .float(bits: 64)))
    XCTAssertEqual(try info("/modalities/vision"), HDF5DatasetInfo(shape: [6, 4, 2], dtype: .float(bits: 16)))
    XCTAssertEqual(try info("/labels"), HDF5DatasetInfo(shape: [6], dtype: .integer(bits: 64, signed: true)))
    XCTAssertEqual(try file.datasetInfo("/lengths/text").dtype, .integer(bits: 32, signed: true))
    XCTAssertEqual(try file.datasetInfo("/groups").dtype.description, "int32")
    XCTAssertEqual(HDF5DType.float(bits: 16).description, "float16")
  }

  func testValuesConvertToFloat() throws {
    let file = try openFixture()
    // text is float32 in the file: identical to numpy's float64 -> float32 cast of the same formula.
    XCTAssertEqual(try file.readFloats("/modalities/text"), text())
    XCTAssertEqual(try file.readDoubles("/modalities/audio"), audio())
    XCTAssertEqual(try file.readFloats("/modalities/audio"), audio().map { Float($0) })
    XCTAssertEqual(try file.readFloats("/modalities/vision"), vision())  // float16 -> float32 is exact
    XCTAssertEqual(try file.readDoubles("/modalities/vision"), vision().map { Double($0) })
  }

  func testLabelsLengthsGroupsAndAttributes() throws {
    let file = try openFixture()
    XCTAssertEqual(try file.readInt64s("/labels"), (0..<n).map { Int64($0 % 3) })
    XCTAssertEqual(try file.stringsAttribute("class_names", on: "/labels"), ["neg", "neu", "pos"])
    XCTAssertEqual(try file.readInt64s("/lengths/text"), (0..<n).map { Int64($0 % 4 + 1) })
    XCTAssertEqual(try file.readInt64s("/lengths/audio"), (0..<n).map { Int64($0 % 5 + 1) })
    XCTAssertEqual(try file.readInt64s("/lengths/vision"), (0..<n).map { Int64($0 % 2 + 3) })
    XCTAssertEqual(try file.readInt64s("/groups"), (0..<n).map { Int64($0 / 2) })
    XCTAssertEqual(try file.stringAttribute("note", on: "/"), "h5py fixture for mmtrain HDF5Tests")
    XCTAssertEqual(try file.stringsAttribute("fixed_names", on: "/"), ["neg", "neu", "pos"])
    XCTAssertEqual(try file.stringAttribute("fixed_note", on: "/"), "fixed")
  }

  func testRowHyperslabOfEveryModality() throws {
    let file = try openFixture()
    let rows = 2..<5
    XCTAssertEqual(try file.readFloats("/modalities/text", rows: rows), Array(text()[(2 * 12)..<(5 * 12)]))
    XCTAssertEqual(try file.readDoubles("/modalities/audio", rows: rows), Array(audio()[(2 * 10)..<(5 * 10)]))
    XCTAssertEqual(try file.readFloats("/modalities/vision", rows: rows), Array(vision()[(2 * 8)..<(5 * 8)]))
    XCTAssertEqual(try file.readInt64s("/labels", rows: rows), [2, 0, 1])
    var buffer = [Float](repeating: .nan, count: 3 * 8)
    try buffer.withUnsafeMutableBufferPointer { try file.readFloats("/modalities/vision", rows: rows, into: $0) }
    XCTAssertEqual(buffer, Array(vision()[(2 * 8)..<(5 * 8)]))
  }
}
