import Foundation
import MMHDF5
import TestSupport
import XCTest

/// A checksummed dataset (Fletcher-32) reads back as written; one flipped byte makes the read fail instead
/// of returning wrong numbers.
final class ChecksumTests: XCTestCase {
  func testFlippedByteInAChecksummedDatasetFailsToRead() throws {
    let path = makeTemporaryDirectory("hdf5-checksum").appendingPathComponent("c.h5").path
    let values: [Float] = (0..<64).map { Float($0) * 0.25 + 1 }
    let file = try HDF5File(path: path, mode: .truncate)
    try file.writeFloats("/w", values, shape: [8, 8], checksummed: true)
    try file.writeFloats("/empty", [], shape: [0], checksummed: true)  // nothing to chunk: stored plainly
    file.close()
    XCTAssertEqual(try HDF5File(path: path).readFloats("/w"), values)

    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let needle = values.prefix(4).withUnsafeBytes { Data($0) }
    let at = try XCTUnwrap(bytes.range(of: needle))
    bytes[at.lowerBound + 6] ^= 0x01
    try bytes.write(to: URL(fileURLWithPath: path))
    XCTAssertThrowsError(try HDF5File(path: path).readFloats("/w")) { error in
      XCTAssertTrue("\(error)".contains("/w"), "\(error)")
    }
  }
}
