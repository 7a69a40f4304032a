import CHDF5
import MMCore

/// One numeric dataset, opened once, read whole rows at a time into caller-owned memory: the loader's path
/// through a modality, block after block.
///
/// A compressed (filtered) dataset is opened with a chunk cache that holds every chunk of `cacheRows` rows
/// (HDF5's default is 1 MiB: a chunk larger than that is read, and decompressed, again for each read that
/// touches it); a chunked one stored as written gets no cache, so its chunks go straight from the file into
/// the caller's memory. The rows' memory space has the file selection's own shape, so HDF5 moves each chunk
/// in one piece. A read that fails names the rows; for a compressed dataset, the chunk's rows, or the filter
/// that this HDF5 library lacks and how to rewrite the file without it.
public final class HDF5RowReader {
  public let file: HDF5File
  public let path: String
  public let shape: [Int]
  /// Rows per storage chunk (the chunk's first dimension); nil when the dataset is not chunked.
  public let chunkRows: Int?
  /// The filters on the dataset's chunks, in pipeline order (empty: stored as written).
  public let filters: [HDF5Filter]
  public var rowCount: Int { shape.first ?? 0 }
  /// Whether reads decode the stored chunks here (gzip, + shuffle, float32: ChunkDecoder) rather than through
  /// HDF5's filters.
  public var decodesChunks: Bool { decoder != nil }
  /// Threads that decode a gzip dataset's chunks (ChunkDecoder) in readers opened from now on; training sets it
  /// to `train.blas_threads`, the cores a rank is given.
  nonisolated(unsafe) public static var decodeThreads = 1
  /// Values per row: the product of every dimension but the first.
  public var rowSize: Int { shape.dropFirst().reduce(1, *) }

  private var dataset: hid_t
  private let chunkShape: [Int]
  /// A gzip (+ shuffle) float32 dataset's chunks are decoded here, not by HDF5 (ChunkDecoder).
  private var decoder: ChunkDecoder?

  /// Opens `path` for reads of up to `cacheRows` rows at a time (the chunk cache is sized for them), or, for
  /// random rows, with a chunk cache of `cacheBytes` when compressed.
  public init(_ file: HDF5File, _ path: String, cacheRows: Int = 1, cacheBytes: Int? = nil) throws {
    self.file = file
    self.path = file.absolute(path)
    let info = try file.datasetInfo(path)
    guard info.dtype.isNumeric else {
      throw file.error("dataset '\(self.path)' is \(info.dtype); only numeric datasets have rows to read")
    }
    guard !info.shape.isEmpty else { throw file.error("dataset '\(self.path)' is a scalar; it has no rows to read") }
    shape = info.shape
    (chunkShape, filters) = try file.storage(of: path)
    chunkRows = chunkShape.first.map { max($0, 1) }
    if let missing = filters.first(where: { !$0.isAvailable }) { throw file.missingFilter(missing, dataset: self.path) }
    let access = H5Pcreate(mm_h5p_dataset_access())
    guard access >= 0 else { throw file.failure("cannot create a property list for dataset '\(self.path)'") }
    defer { _ = H5Pclose(access) }
    if chunkRows != nil && filters.isEmpty {
      // Stored as written: no cache at all, so HDF5 reads each chunk's selected part straight into the caller's
      // memory instead of into a fresh allocation first (Performance.md, "Start-up by file layout").
      guard H5Pset_chunk_cache(access, 0, 0, 1.0) >= 0 else {
        throw file.failure("cannot size the chunk cache of dataset '\(self.path)'")
      }
    } else if let chunkRows {
      // Every chunk a read of cacheRows rows (plus a partial chunk at each end) touches, with room to spare, so
      // a chunk that two reads share is decompressed once.
      let chunkBytes = chunkShape.reduce(1, *) * max(info.dtype.byteCount, 1)
      var across = 1  // chunks side by side in one band of chunkRows rows
      for (d, c) in zip(shape.dropFirst(), chunkShape.dropFirst()) { across *= (d + max(c, 1) - 1) / max(c, 1) }
      let bands = (max(cacheRows, 1) + chunkRows - 1) / chunkRows + 2
      let bytes = cacheBytes ?? max(bands * across * chunkBytes, 1 << 20)
      let chunks = max(bytes / max(chunkBytes, 1), 1)
      // HDF5's advice: about 100 hash slots per chunk that fits, a prime, so the chunks of a band do not collide.
      let slots = Self.prime(atLeast: max(521, min(chunks * 100, 1 << 20)))
      // w0 stays HDF5's 0.75: with 1.0 (evict fully read chunks first) libhdf5 1.10 kept ~1 MB per chunk a random
      // row read touched until the dataset closed (Performance.md, "Start-up by file layout").
      guard H5Pset_chunk_cache(access, slots, bytes, 0.75) >= 0 else {
        throw file.failure("cannot size the chunk cache of dataset '\(self.path)'")
      }
    }
    dataset = H5Dopen2(try file.fileID(), self.path, access)
    guard dataset >= 0 else { throw file.failure("cannot open dataset '\(self.path)'") }
    // Random rows (cacheBytes) keep up to cacheBytes of decoded chunk bands, as HDF5's chunk cache would.
    if chunkRows != nil {
      decoder = ChunkDecoder(
        dataset: dataset, shape: shape, chunk: chunkShape, filters: filters, threads: HDF5RowReader.decodeThreads,
        cacheBytes: cacheBytes)
    }
  }

  deinit { close() }

  public func close() {
    guard dataset >= 0 else { return }
    HDF5.silenceErrorStackOnThisThread()
    decoder = nil
    _ = H5Dclose(dataset)
    dataset = -1
  }

  /// Reads `rows` (every other dimension whole) as float32 into `buffer`, which holds exactly
  /// `rows.count * rowSize` floats.
  public func readFloats(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
    try read(
      rows: rows, memoryType: mm_h5t_native_float(), into: UnsafeMutableRawPointer(buffer.baseAddress),
      count: buffer.count)
  }

  // MARK: - Private

  private func read(rows: Range<Int>, memoryType: hid_t, into destination: UnsafeMutableRawPointer?, count: Int) throws
  {
    guard dataset >= 0 else { throw MMError("\(file.path): dataset '\(path)' was read after close()") }
    HDF5.silenceErrorStackOnThisThread()
    guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
      throw file.error("rows \(rows) are out of range for dataset '\(path)', which has \(rowCount) rows")
    }
    guard count == rows.count * rowSize else {
      throw file.error(
        "dataset '\(path)' rows \(rows) hold \(rows.count * rowSize) values; the buffer has room for \(count)")
    }
    guard count > 0 else { return }
    if let decoder, memoryType == mm_h5t_native_float(), let destination {
      do {
        return try decoder.read(rows: rows, into: destination.assumingMemoryBound(to: Float.self)) { part, at in
          try readThroughHDF5(part, memoryType: memoryType, into: at)  // a band HDF5 fills
        }
      } catch let failure as ChunkDecoder.DecodeFailure {
        throw corruptChunk(failure.rows, cause: nil)
      }
    }
    try readThroughHDF5(rows, memoryType: memoryType, into: destination)
  }

  /// One H5Dread of `rows`; HDF5's failure becomes the one line that says why (`diagnose`).
  private func readThroughHDF5(_ rows: Range<Int>, memoryType: hid_t, into destination: UnsafeMutableRawPointer?)
    throws
  {
    if try select(rows, memoryType: memoryType, into: destination) { return }
    throw diagnose(rows, cause: HDF5.innermostErrorMessage())
  }

  /// One H5Dread of `rows`; false when HDF5 fails (its error stack is left for the caller to read).
  private func select(_ rows: Range<Int>, memoryType: hid_t, into destination: UnsafeMutableRawPointer?) throws -> Bool
  {
    let rank = shape.count
    var start = [hsize_t](repeating: 0, count: rank), count = shape.map { hsize_t($0) }
    start[0] = hsize_t(rows.lowerBound)
    count[0] = hsize_t(rows.count)
    let fileSpace = H5Dget_space(dataset)
    guard fileSpace >= 0 else { throw file.failure("cannot read the shape of dataset '\(path)'") }
    defer { _ = H5Sclose(fileSpace) }
    guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
      throw file.failure("cannot select rows \(rows) of dataset '\(path)'")
    }
    // The same shape as the selection: HDF5 then copies each chunk's part as one block.
    let memorySpace = H5Screate_simple(Int32(rank), count, nil)
    guard memorySpace >= 0 else { throw file.failure("cannot create a memory space for dataset '\(path)'") }
    defer { _ = H5Sclose(memorySpace) }
    return H5Dread(dataset, memoryType, memorySpace, fileSpace, mm_h5p_default(), destination) >= 0
  }

  /// Why a read of `rows` failed, in one line: a filter this library lacks, the chunk whose data is corrupt
  /// (found by reading chunk by chunk), or HDF5's own reason.
  private func diagnose(_ rows: Range<Int>, cause: String?) -> MMError {
    if let missing = filters.first(where: { !$0.isAvailable }) { return file.missingFilter(missing, dataset: path) }
    guard let chunkRows, !filters.isEmpty else {
      return file.error("cannot read rows \(rows) of dataset '\(path)'", cause: cause)
    }
    var band = rows.lowerBound - rows.lowerBound % chunkRows
    let scratch = UnsafeMutableRawPointer.allocate(
      byteCount: chunkRows * rowSize * MemoryLayout<Float>.size, alignment: 64)
    defer { scratch.deallocate() }
    while band < rows.upperBound {
      let chunk = band..<min(band + chunkRows, rowCount)
      if (try? select(chunk, memoryType: mm_h5t_native_float(), into: scratch)) != true {
        return corruptChunk(chunk, cause: HDF5.innermostErrorMessage() ?? cause)
      }
      band += chunkRows
    }
    return file.error("cannot read rows \(rows) of dataset '\(path)'", cause: cause)
  }

  /// The one line for a chunk (its `rows`) whose stored bytes do not decode.
  private func corruptChunk(_ rows: Range<Int>, cause: String?) -> MMError {
    let names = filters.map(\.name).joined(separator: ", ")
    return file.error(
      "dataset '\(path)' rows \(rows.lowerBound)..<\(rows.upperBound) cannot be read: their chunk is corrupt (filters \(names)); "
        + "the file is damaged: write it again from its source", cause: cause)
  }

  private static func prime(atLeast n: Int) -> Int {
    func isPrime(_ p: Int) -> Bool {
      var d = 2
      while d * d <= p {
        if p % d == 0 { return false }
        d += 1
      }
      return true
    }
    var p = max(n, 2)
    while !isPrime(p) { p += 1 }
    return p
  }
}

/// One filter of a chunked dataset's pipeline, as the file records it.
public struct HDF5Filter: Equatable, Sendable {
  public let id: Int
  public let name: String
  /// Whether this HDF5 library can run it (built in, or a plugin found on HDF5_PLUGIN_PATH).
  public let isAvailable: Bool
}

extension HDF5File {
  /// The chunk shape ([] when not chunked) and the filters of dataset `path`.
  public func storage(of path: String) throws -> (chunk: [Int], filters: [HDF5Filter]) {
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    let plist = H5Dget_create_plist(dataset)
    guard plist >= 0 else { throw failure("cannot read the layout of dataset '\(absolute(path))'") }
    defer { _ = H5Pclose(plist) }
    guard H5Pget_layout(plist) == H5D_CHUNKED else { return ([], []) }
    var dims = [hsize_t](repeating: 0, count: 32)
    let rank = H5Pget_chunk(plist, 32, &dims)
    guard rank >= 1 else { throw failure("cannot read the chunk shape of dataset '\(absolute(path))'") }
    var filters: [HDF5Filter] = []
    for index in 0..<max(H5Pget_nfilters(plist), 0) {
      var flags: UInt32 = 0, values = [UInt32](repeating: 0, count: 16), valueCount = 16, config: UInt32 = 0
      var name = [CChar](repeating: 0, count: 256)
      let id = H5Pget_filter2(plist, UInt32(index), &flags, &valueCount, &values, name.count, &name, &config)
      guard id >= 0 else { throw failure("cannot read the filters of dataset '\(absolute(path))'") }
      let recorded = String(cString: name)
      filters.append(
        HDF5Filter(
          id: Int(id), name: recorded.isEmpty ? HDF5Filter.knownName(Int(id)) : recorded,
          isAvailable: H5Zfilter_avail(id) > 0))
    }
    return (dims.prefix(Int(rank)).map { Int($0) }, filters)
  }

  /// Where in the file the chunk holding `row` of a chunked dataset is stored (bytes, as written: compressed
  /// when filtered); nil when the dataset is not chunked or that chunk was never written. For diagnostics and
  /// for the tests that damage one chunk on purpose.
  public func chunkBytes(_ path: String, row: Int) throws -> Range<Int>? {
    let (chunk, _) = try storage(of: path)
    guard let rows = chunk.first, rows > 0 else { return nil }
    let dataset = try openDataset(path)
    defer { _ = H5Dclose(dataset) }
    var offset = [hsize_t](repeating: 0, count: chunk.count)
    offset[0] = hsize_t(row - row % rows)
    var mask: UInt32 = 0, address: haddr_t = 0, size: hsize_t = 0
    guard H5Dget_chunk_info_by_coord(dataset, offset, &mask, &address, &size) >= 0 else {
      throw failure("cannot locate the chunk of row \(row) of dataset '\(absolute(path))'")
    }
    guard size > 0, address != haddr_t.max else { return nil }
    return Int(address)..<(Int(address) + Int(size))
  }

  /// The one line for a dataset whose filter this library cannot run.
  func missingFilter(_ filter: HDF5Filter, dataset: String) -> MMError {
    error(
      "dataset '\(dataset)' is stored with filter \(filter.id) (\(filter.name)), which this HDF5 library does not have; "
        + "rewrite the file without it (`h5repack -f NONE \(path) plain.h5`, or h5py with compression=\"gzip\"), "
        + "or put the filter's plugin on HDF5_PLUGIN_PATH")
  }
}

extension HDF5Filter {
  /// Names of the registered filters h5py users meet most (www.hdfgroup.org/services/registered_filter_plugins).
  static func knownName(_ id: Int) -> String {
    switch id {
    case 1: "deflate"
    case 2: "shuffle"
    case 3: "fletcher32"
    case 4: "szip"
    case 5: "nbit"
    case 6: "scaleoffset"
    case 32000: "lzf"
    case 32001: "blosc"
    case 32004: "lz4"
    case 32008: "bitshuffle"
    case 32015: "zstd"
    case 32026: "blosc2"
    default: "unregistered"
    }
  }
}
