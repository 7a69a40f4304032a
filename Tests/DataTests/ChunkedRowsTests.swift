import MMHDF5
import TestSupport
import XCTest

@testable import MMData

/// Block reads: every row of a range exactly once, in order, whatever the block size; blocks of a chunked
/// dataset are whole chunks from a chunk boundary.
final class ChunkedRowsTests: XCTestCase {
  func testBlockRowsAreWholeChunks() {
    XCTAssertEqual(ChunkedRows.blockRows(rowSize: 1000, chunkRows: nil, blockBytes: 40_000), 10)
    XCTAssertEqual(
      ChunkedRows.blockRows(rowSize: 1000, chunkRows: 4, blockBytes: 40_000), 8, "a whole number of 4-row chunks")
    XCTAssertEqual(ChunkedRows.blockRows(rowSize: 1000, chunkRows: 64, blockBytes: 40_000), 64, "at least one chunk")
    XCTAssertEqual(ChunkedRows.blockRows(rowSize: 1_000_000, chunkRows: nil, blockBytes: 40_000), 1, "at least one row")
  }

  func testEveryRowOnceInOrderForAnyBlockSize() throws {
    let dir = makeTemporaryDirectory("chunked")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("d.h5").path
    let N = 37, T = 3, D = 5
    let values = (0..<(N * T * D)).map { Float($0) }
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/x", values, shape: [N, T, D])
    for blockBytes in [1, 60, 200, 4 << 20] {
      for rows in [0..<N, 5..<31, 36..<37] {
        var seen: [Float] = []
        var firsts: [Int] = []
        try ChunkedRows.forEach(f, "/x", rows: rows, rowSize: T * D, blockBytes: blockBytes) { first, count, data in
          firsts.append(first)
          seen += Array(UnsafeBufferPointer(start: data, count: count * T * D))
        }
        XCTAssertEqual(
          seen, Array(values[(rows.lowerBound * T * D)..<(rows.upperBound * T * D)]),
          "rows \(rows), block \(blockBytes) bytes")
        XCTAssertEqual(firsts.first, 0)
      }
    }
    f.close()
  }
}
