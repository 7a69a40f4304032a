import MMHDF5
import TestSupport
import XCTest

/// An `.inMemory` file (checkpoints are built this way) handed out by `closeKeepingImage`: a valid file once
/// written out, holding every dataset and attribute, several megabytes (the buffer grows past many of the
/// driver's 1 MB increments), and the file closed afterwards.
final class InMemoryFileTests: XCTestCase {
  func testClosedImageIsTheFileImageAndReadsBack() throws {
    let dir = makeTemporaryDirectory("hdf5-in-memory")
    let path = dir.appendingPathComponent("image.h5").path
    let big = (0..<(3 << 20)).map { Float($0 % 1009) * 0.25 }  // 12 MB
    let file = try HDF5File(path: path, mode: .inMemory)
    try big.withUnsafeBufferPointer { try file.writeFloats("/params/w", $0, shape: [3, 1 << 20], checksummed: true) }
    try file.writeDoubles("/small", [1, 2, 3], shape: [3])
    try file.setAttribute("format", on: "/", string: "test")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path), "an in-memory file touched the disk")
    var kept: [UInt8] = []
    try file.closeKeepingImage { kept = Array($0) }
    XCTAssertGreaterThan(kept.count, big.count * 4)
    XCTAssertThrowsError(try file.writeDoubles("/late", [1], shape: [1]), "the file is closed")
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(kept)))
    let reopened = try HDF5File(path: path)
    XCTAssertEqual(try reopened.readFloats("/params/w"), big)
    XCTAssertEqual(try reopened.readDoubles("/small"), [1, 2, 3])
    XCTAssertEqual(try reopened.stringAttribute("format", on: "/"), "test")
  }

  func testOnlyAnInMemoryFileKeepsItsImage() throws {
    let path = makeTemporaryDirectory("hdf5-in-memory").appendingPathComponent("disk.h5").path
    let file = try HDF5File(path: path, mode: .truncate)
    XCTAssertThrowsError(try file.closeKeepingImage { _ in XCTFail("no image for a file on disk") })
  }
}
