import Foundation
import MMHDF5
import TestSupport
import XCTest

/// The loader's own decoding of gzip (+ shuffle) chunks (ChunkDecoder): the rows it places equal the values
/// written, for chunks cut across every dimension (edge chunks included), reads that start and end inside a
/// chunk, chunks HDF5 never wrote and chunks stored with a filter skipped; anything else goes through HDF5.
final class ChunkDecoderTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("hdf5-decoder") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func values(_ count: Int) -> [Float] { (0..<count).map { Float($0) * 0.37 - 11 } }

  /// Reads `rows` of `reader` and compares them with `expected` (row-major, `rowSize` values a row).
  func check(
    _ reader: HDF5RowReader, _ rows: Range<Int>, _ expected: [Float], rowSize: Int, _ what: String,
    line: UInt = #line
  ) throws {
    var got = [Float](repeating: .nan, count: rows.count * rowSize)
    try got.withUnsafeMutableBufferPointer { try reader.readFloats(rows: rows, into: $0) }
    XCTAssertEqual(
      got, Array(expected[(rows.lowerBound * rowSize)..<(rows.upperBound * rowSize)]), "\(what) rows \(rows)",
      line: line)
  }

  func testDecodedRowsEqualTheValuesWhateverTheChunkShape() throws {
    for (shape, chunk) in [
      ([23, 5, 7], [4, 2, 3]),  // h5py's chunks=True cuts every dimension; edge chunks on each
      ([23, 5, 7], [23, 5, 7]),  // one chunk
      ([23, 5, 7], [1, 1, 1]),
      ([23, 9], [4, 4]),
      ([11, 3, 4, 5], [3, 2, 3, 2]),
      ([23], [5]),
    ] {
      for shuffle in [false, true] {
        let what = "shape \(shape) chunks \(chunk) shuffle \(shuffle)"
        let count = shape.reduce(1, *), rowSize = count / shape[0], n = shape[0]
        let expected = values(count)
        let path = dir.appendingPathComponent("d.h5").path
        let f = try HDF5File(path: path, mode: .truncate)
        try f.writeFloats("/x", expected, shape: shape, chunkRows: 1, chunk: chunk, gzipLevel: 4, shuffle: shuffle)
        f.close()
        let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheRows: 6)
        XCTAssertTrue(reader.decodesChunks, what)
        for rows in [0..<n, 3..<9, 7..<8, (n - 1)..<n, 4..<4] {
          try check(reader, rows, expected, rowSize: rowSize, what)
        }
        // consecutive blocks that start and end inside chunks (the band kept between reads)
        var first = 0
        for size in [2, 5, 1, 6, 3, 7, 9, 20] where first < n {
          let rows = first..<min(first + size, n)
          try check(reader, rows, expected, rowSize: rowSize, "\(what), consecutive")
          first = rows.upperBound
        }
      }
    }
  }

  func testSeveralDecodingThreadsPlaceTheSameRows() throws {
    let shape = [40, 6, 9], chunk = [6, 2, 4], expected = values(40 * 54)
    let path = dir.appendingPathComponent("t.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/x", expected, shape: shape, chunkRows: 1, chunk: chunk, gzipLevel: 6, shuffle: true)
    f.close()
    defer { HDF5RowReader.decodeThreads = 1 }
    for threads in [2, 3, 8] {
      HDF5RowReader.decodeThreads = threads
      let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheRows: 10)
      XCTAssertTrue(reader.decodesChunks)
      var first = 0
      for size in [4, 10, 3, 13, 10] {
        let rows = first..<min(first + size, 40)
        try check(reader, rows, expected, rowSize: 54, "\(threads) threads")
        first = rows.upperBound
      }
    }
  }

  func testACorruptChunkNamesItsRowsWhateverTheThreads() throws {
    let shape = [20, 6, 9], expected = values(20 * 54)
    let path = dir.appendingPathComponent("bad.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/x", expected, shape: shape, chunkRows: 1, chunk: [5, 2, 4], gzipLevel: 4, shuffle: true)
    f.close()
    let at = try XCTUnwrap(try HDF5File(path: path).chunkBytes("/x", row: 12), "rows 10..<15, the band's first chunk")
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    for k in (at.lowerBound + 2)..<min(at.lowerBound + 12, at.upperBound) { bytes[k] ^= 0x5a }
    try bytes.write(to: URL(fileURLWithPath: path))
    defer { HDF5RowReader.decodeThreads = 1 }
    for threads in [1, 3] {
      HDF5RowReader.decodeThreads = threads
      let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheRows: 20)
      XCTAssertTrue(reader.decodesChunks)
      try check(reader, 0..<10, expected, rowSize: 54, "\(threads) threads, the bands before it")
      var all = [Float](repeating: 0, count: 20 * 54)
      XCTAssertThrowsError(try all.withUnsafeMutableBufferPointer { try reader.readFloats(rows: 0..<20, into: $0) }) {
        let line = "\($0)"
        XCTAssertTrue(line.hasPrefix("\(path): dataset '/x' rows 10..<15 cannot be read: their chunk is corrupt"), line)
        XCTAssertFalse(line.contains("\n"), line)
      }
    }
  }

  func testUnwrittenChunksAndSkippedFiltersReadAsHDF5Has() throws {
    // make_filter_fixture.py: rows 4..<8 never written (zeros), rows 8..<10 stored shuffled but not compressed.
    let path = fixturesDirectory().appendingPathComponent("gzip_partial.h5").path
    let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheRows: 4)
    XCTAssertTrue(reader.decodesChunks)
    var expected = (0..<120).map { Float($0) * 0.25 - 3 }
    for k in (4 * 12)..<(8 * 12) { expected[k] = 0 }
    for rows in [0..<10, 0..<4, 2..<6, 4..<8, 6..<10, 9..<10] {
      try check(reader, rows, expected, rowSize: 12, "fixture")
    }
  }

  func testOtherStorageGoesThroughHDF5() throws {
    let shape = [9, 2, 3], expected = values(54)
    let path = dir.appendingPathComponent("o.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/sum", expected, shape: shape, chunkRows: 4, gzipLevel: 4, checksummed: true)
    try f.writeFloats("/plain", expected, shape: shape, chunkRows: 4)
    try f.writeFloats("/gzip", expected, shape: shape, chunkRows: 4, gzipLevel: 1, shuffle: true)
    f.close()
    let file = try HDF5File(path: path)
    for (name, decodes) in [("/sum", false), ("/plain", false), ("/gzip", true)] {
      let reader = try HDF5RowReader(file, name, cacheRows: 4)
      XCTAssertEqual(reader.decodesChunks, decodes, name)
      try check(reader, 1..<8, expected, rowSize: 6, name)
    }
  }

  func testRandomRowsKeepDecodedBandsWithinTheCache() throws {
    let shape = [30, 4, 5], expected = values(600)
    let path = dir.appendingPathComponent("r.h5").path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/x", expected, shape: shape, chunkRows: 1, chunk: [4, 3, 2], gzipLevel: 4, shuffle: true)
    f.close()
    // a band is 4 rows x 6 chunks of 24 floats: 2304 bytes; the caches hold 1, 2 and all of the 8 bands
    for bytes in [0, 2 * 2304, 1 << 20] {
      let reader = try HDF5RowReader(try HDF5File(path: path), "/x", cacheBytes: bytes)
      XCTAssertTrue(reader.decodesChunks)
      for row in [5, 6, 29, 0, 7, 4, 28, 13, 12, 5, 1, 22, 21, 29] {
        try check(reader, row..<(row + 1), expected, rowSize: 20, "cache \(bytes), row \(row)")
      }
    }
  }
}
