import MMHDF5
import MMTensor

/// Reads rows of an [N, T, D] dataset in chunks into one reused buffer, so reading a modality never holds
/// more than `chunkRows` raw rows at once.
enum ChunkedRows {
  static let chunkRows = 256

  /// Calls `body(first, count, data)` for consecutive chunks of `rows`: `first` is the chunk's offset inside
  /// `rows`, `data` holds `count` rows of `rowSize` floats.
  static func forEach(
    _ file: HDF5File, _ dataset: String, rows: Range<Int>, rowSize: Int,
    _ body: (_ first: Int, _ count: Int, _ data: UnsafeMutablePointer<Float>) throws -> Void
  ) throws {
    let buffer = Buffer(count: min(chunkRows, max(rows.count, 1)) * rowSize)
    var first = 0
    while first < rows.count {
      let count = min(chunkRows, rows.count - first)
      let start = rows.lowerBound + first
      try file.readFloats(dataset, rows: start..<(start + count), into: UnsafeMutableBufferPointer(start: buffer.pointer, count: count * rowSize))
      try body(first, count, buffer.pointer)
      first += count
    }
  }
}
