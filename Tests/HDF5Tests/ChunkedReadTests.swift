import Foundation
import MMHDF5
import TestSupport
import XCTest

/// Chunked and compressed datasets as h5py writes them: rows read back exactly whatever the chunking and the
/// block boundaries; a damaged chunk names its rows; a filter this library lacks names itself and the fix.
final class ChunkedReadTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("hdf5-chunked") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  let N = 23, T = 3, D = 4
  var values: [Float] { (0..<(N * T * D)).map { Float($0) * 0.5 - 7 } }

  func write(_ name: String, chunkRows: Int?, gzip: Int? = nil, shuffle: Bool = false) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    if let chunkRows {
      try f.writeFloats("/x", values, shape: [N, T, D], chunkRows: chunkRows, gzipLevel: gzip, shuffle: shuffle)
    } else {
      try f.writeFloats("/x", values, shape: [N, T, D])
    }
    f.close()
    return path
  }

  func testRowsReadBackWhateverTheStorage() throws {
    for (name, chunk, gzip, shuffle) in [
      ("c.h5", nil, nil, false), ("k.h5", 5, nil, false), ("z.h5", 4, 4, true), ("g.h5", 1, 9, false),
    ] as [(String, Int?, Int?, Bool)] {
      let file = try HDF5File(path: try write(name, chunkRows: chunk, gzip: gzip, shuffle: shuffle))
      let reader = try HDF5RowReader(file, "/x", cacheRows: 6)
      XCTAssertEqual(reader.chunkRows, chunk, name)
      XCTAssertEqual(reader.filters.map(\.name), (shuffle ? ["shuffle"] : []) + (gzip != nil ? ["deflate"] : []), name)
      for rows in [0..<N, 3..<9, 7..<8, 22..<23, 4..<4] {
        var got = [Float](repeating: .nan, count: rows.count * T * D)
        try got.withUnsafeMutableBufferPointer { try reader.readFloats(rows: rows, into: $0) }
        XCTAssertEqual(
          got, Array(values[(rows.lowerBound * T * D)..<(rows.upperBound * T * D)]), "\(name) rows \(rows)")
      }
      var two = [Float](repeating: 0, count: 2 * T * D)
      XCTAssertThrowsError(try two.withUnsafeMutableBufferPointer { try reader.readFloats(rows: 22..<24, into: $0) }) {
        XCTAssertTrue("\($0)".contains("out of range for dataset '/x'"), "\($0)")
      }
    }
  }

  func testCorruptCompressedChunkNamesTheDatasetAndItsRows() throws {
    let path = try write("z.h5", chunkRows: 4, gzip: 4, shuffle: true)
    let at = try XCTUnwrap(try HDF5File(path: path).chunkBytes("/x", row: 9), "rows 8..<12 are one stored chunk")
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    for k in (at.lowerBound + 2)..<min(at.lowerBound + 12, at.upperBound) { bytes[k] ^= 0x5a }
    try bytes.write(to: URL(fileURLWithPath: path))

    let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheRows: N)
    var good = [Float](repeating: 0, count: 8 * T * D)
    // the chunks before it are fine
    try good.withUnsafeMutableBufferPointer { try reader.readFloats(rows: 0..<8, into: $0) }
    XCTAssertEqual(good, Array(values[0..<(8 * T * D)]))
    var all = [Float](repeating: 0, count: N * T * D)
    XCTAssertThrowsError(try all.withUnsafeMutableBufferPointer { try reader.readFloats(rows: 0..<N, into: $0) }) {
      error in
      let line = "\(error)"
      XCTAssertTrue(line.hasPrefix("\(path): dataset '/x' rows 8..<12 cannot be read: their chunk is corrupt"), line)
      XCTAssertFalse(line.contains("\n"), "one line: \(line)")
    }
  }

  func testMissingFilterPluginIsOneLineWithTheFix() throws {
    let path = fixturesDirectory().appendingPathComponent("lzf_modality.h5").path
    let file = try HDF5File(path: path)
    let (chunk, filters) = try file.storage(of: "/modalities/text")
    XCTAssertEqual(chunk, [2, 2, 24])
    XCTAssertEqual(filters.map(\.id), [32000])
    XCTAssertEqual(filters.map(\.name), ["lzf"])
    XCTAssertEqual(filters.map(\.isAvailable), [false])
    XCTAssertThrowsError(try HDF5RowReader(file, "/modalities/text")) { error in
      let line = "\(error)"
      XCTAssertTrue(line.hasPrefix("\(path): dataset '/modalities/text' is stored with filter 32000 (lzf)"), line)
      XCTAssertTrue(line.contains("h5repack -f NONE \(path) plain.h5"), line)
      XCTAssertFalse(line.contains("\n"), line)
    }
    XCTAssertThrowsError(try file.readFloats("/modalities/text")) { error in
      XCTAssertTrue("\(error)".contains("filter 32000 (lzf)"), "the whole-dataset read names the filter too: \(error)")
    }
    XCTAssertEqual(try HDF5RowReader(file, "/modalities/audio").filters, [], "the plain modality beside it reads")
  }
}
