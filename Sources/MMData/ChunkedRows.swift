import MMHDF5
import MMTensor

/// Reads rows of an [N, T, D] dataset in blocks into one reused buffer: whole rows, one hyperslab per block
/// (no per-element selection), so reading a modality never holds more than one block of raw rows.
///
/// A block is about `blockBytes` (small enough to stay in cache while the caller works on it; large enough
/// that the per-read overhead is nothing). For a chunked dataset the block is a whole number of chunks and
/// starts on a chunk boundary where the range allows, and the dataset is opened once with a chunk cache that
/// holds a block's chunks (`HDF5RowReader`): every chunk is read, and decompressed, once, in storage order;
/// a range that starts or ends inside a chunk reads that chunk once too.
enum ChunkedRows {
  static let blockBytes = 2 << 20

  /// Rows per block for rows of `rowSize` floats, given the dataset's chunk rows (nil: contiguous).
  static func blockRows(rowSize: Int, chunkRows: Int?, blockBytes: Int = blockBytes) -> Int {
    let rows = max(1, blockBytes / max(rowSize * MemoryLayout<Float>.size, 1))
    guard let c = chunkRows else { return rows }
    return max(1, rows / c) * c
  }

  /// Calls `body(first, count, data)` for consecutive blocks of `rows`: `first` is the block's offset inside
  /// `rows`, `data` holds `count` rows of `rowSize` floats.
  static func forEach(
    _ file: HDF5File, _ dataset: String, rows: Range<Int>, rowSize: Int, blockBytes: Int = blockBytes,
    _ body: (_ first: Int, _ count: Int, _ data: UnsafeMutablePointer<Float>) throws -> Void
  ) throws {
    let chunk = try file.chunkRows(dataset)
    let block = blockRows(rowSize: rowSize, chunkRows: chunk, blockBytes: blockBytes)
    let reader = try HDF5RowReader(file, dataset, cacheRows: min(block, rows.count))
    defer { reader.close() }
    let buffer = Buffer(count: min(block, max(rows.count, 1)) * rowSize)
    var first = 0
    while first < rows.count {
      let start = rows.lowerBound + first
      // The first block of a chunked dataset ends on a chunk boundary; later ones are whole chunks.
      var count = min(block, rows.count - first)
      if let c = chunk, start % c != 0 { count = min(count, c - start % c) }
      try reader.readFloats(
        rows: start..<(start + count), into: UnsafeMutableBufferPointer(start: buffer.pointer, count: count * rowSize))
      try body(first, count, buffer.pointer)
      first += count
    }
  }
}

extension ChunkedRows {
  /// The same rows of several datasets at once, block by block: `body(first, count, data)` gets `count` rows
  /// of each dataset (`data[k]`: rows of `rowSizes[k]` floats), so a caller can build whole fused rows while
  /// every modality's block is in cache. A block is about `blockBytes` over all datasets, and a whole number
  /// of the largest compressed chunk (blocks start on its boundaries after the first), so each compressed
  /// chunk is decompressed once; uncompressed chunks are read straight from the file, in part or whole.
  static func forEach(
    _ file: HDF5File, _ datasets: [String], rows: Range<Int>, rowSizes: [Int], blockBytes: Int = blockBytes,
    _ body: (_ first: Int, _ count: Int, _ data: [UnsafeMutablePointer<Float>]) throws -> Void
  ) throws {
    var chunk: Int? = nil  // rows of the largest compressed chunk
    for dataset in datasets {
      let (shape, filters) = try file.storage(of: dataset)
      if let rows = shape.first, !filters.isEmpty { chunk = max(chunk ?? 1, max(rows, 1)) }
    }
    let block = blockRows(rowSize: rowSizes.reduce(0, +), chunkRows: chunk, blockBytes: blockBytes)
    let readers = try datasets.map { try HDF5RowReader(file, $0, cacheRows: min(block, rows.count)) }
    defer { for reader in readers { reader.close() } }
    let buffers = rowSizes.map { Buffer(count: min(block, max(rows.count, 1)) * $0) }
    let pointers = buffers.map(\.pointer)
    var first = 0
    while first < rows.count {
      let start = rows.lowerBound + first
      var count = min(block, rows.count - first)
      if let c = chunk, start % c != 0 { count = min(count, c - start % c) }
      for (k, reader) in readers.enumerated() {
        let values = UnsafeMutableBufferPointer(start: pointers[k], count: count * rowSizes[k])
        try reader.readFloats(rows: start..<(start + count), into: values)
      }
      try body(first, count, pointers)
      first += count
    }
    withExtendedLifetime(buffers) {}
  }
}
