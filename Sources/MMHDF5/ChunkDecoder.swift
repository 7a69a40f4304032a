import CDeflate
import CHDF5
import Dispatch

/// Reads a gzip (and shuffle) float32 dataset's chunks as stored (`H5Dread_chunk`) and decodes them here:
/// libdeflate for the zlib stream, then the byte unshuffle, then each chunk's rows are placed in the caller's
/// block. HDF5's own path (its deflate filter is zlib's inflate, then a byte-at-a-time unshuffle, then a copy
/// out of the chunk cache) loads W1's gzip-4 + shuffle file at about h5py's rate; this one decodes about twice
/// as fast (the Performance article). The bytes are the same: DEFLATE is lossless, each stream's Adler-32 is
/// checked, and the unshuffle is a permutation, so a corrupt chunk still fails (`DecodeFailure`).
///
/// HDF5RowReader uses it for every read of a dataset whose pipeline is deflate, or shuffle then deflate, stored
/// as little-endian float32; anything else (fletcher32, szip, plugins, other types, and a band holding a
/// chunk never written) goes through HDF5. Reads go band by band (the chunks of `chunk[0]` rows): the calling thread
/// reads a band's stored chunks, then `threads` threads decode and place them. A band that a read needs only in
/// part stays decoded: for block reads (the loader) the one band two blocks share, so each chunk is decoded
/// once; for random rows (`data.stream`) as many bands as the reader's cache holds, least recently used out.
final class ChunkDecoder {
  /// A chunk that cannot be decoded: the rows of its band (the caller names them).
  struct DecodeFailure: Error { let rows: Range<Int> }
  /// A band with a chunk the file never wrote (HDF5 fills it): `fetch` found it before decoding anything.
  private struct Unwritten: Error {}

  let dataset: hid_t  // not owned (HDF5RowReader's)
  let shape: [Int], chunk: [Int]
  let shuffled: Bool  // pipeline index 0 is shuffle, then deflate at index 1; else deflate alone at index 0
  let chunkFloats: Int
  /// Threads that decode a band's chunks (the calling one among them); HDF5 is called from the calling thread only.
  let threads: Int
  private let rowSize: Int
  /// Chunk offsets of one band across dimensions 1..<rank (dimension 0's offset is the band's first row).
  private let offsets: [[Int]]
  /// A band's chunks as stored: chunk k's bytes at `raw + rawOffsets[k]`, `rawSizes[k]` of them, `masks[k]` the
  /// filters skipped for it.
  private var raw: UnsafeMutableRawPointer, rawCapacity: Int
  private var rawOffsets: [Int], rawSizes: [Int], masks: [UInt32]
  /// Per decoding thread: a libdeflate decompressor (not thread-safe) and one chunk of scratch, twice.
  private let decoders: [OpaquePointer]
  private let scratch: UnsafeMutablePointer<Float>  // (threads, 2, chunkFloats)
  private let failed: UnsafeMutablePointer<Bool>  // per chunk of the band being decoded (threads write their own)
  /// Bands read in part, decoded (their chunks in `offsets` order), the most recently used last: at most
  /// `keptLimit` of them (block reads: 1, the band two blocks share; random rows: as many as the cache allows).
  private var kept: [(band: Int, chunks: UnsafeMutablePointer<Float>)] = []
  private let keptLimit: Int

  /// nil when this decoder does not handle the dataset (its filters, its type, or not chunked).
  /// `cacheBytes`: memory for decoded bands kept between reads (nil: one band, for reads in blocks).
  init?(dataset: hid_t, shape: [Int], chunk: [Int], filters: [HDF5Filter], threads: Int = 1, cacheBytes: Int? = nil) {
    guard !shape.isEmpty, chunk.count == shape.count, chunk.allSatisfy({ $0 > 0 }) else { return nil }
    switch filters.map(\.id) {
    case [1]: shuffled = false
    case [2, 1]: shuffled = true
    default: return nil
    }
    let type = H5Dget_type(dataset)
    guard type >= 0 else { return nil }
    defer { _ = H5Tclose(type) }
    guard H5Tequal(type, mm_h5t_ieee_f32le()) > 0 else { return nil }
    self.dataset = dataset
    self.shape = shape
    self.chunk = chunk
    chunkFloats = chunk.reduce(1, *)
    rowSize = shape.dropFirst().reduce(1, *)
    var offsets: [[Int]] = [[]]
    for d in 1..<shape.count {
      offsets = offsets.flatMap { o in stride(from: 0, to: shape[d], by: chunk[d]).map { o + [$0] } }
    }
    self.offsets = offsets
    keptLimit = max(1, (cacheBytes ?? 0) / max(offsets.count * chunkFloats * 4, 1))
    self.threads = max(1, min(threads, offsets.count))
    decoders = (0..<self.threads).compactMap { _ in libdeflate_alloc_decompressor() }
    guard decoders.count == self.threads else {
      for d in decoders { libdeflate_free_decompressor(d) }
      return nil
    }
    rawCapacity = offsets.count * (chunkFloats * 4 + 64)
    raw = .allocate(byteCount: rawCapacity, alignment: 64)
    rawOffsets = [Int](repeating: 0, count: offsets.count)
    rawSizes = rawOffsets
    masks = [UInt32](repeating: 0, count: offsets.count)
    failed = .allocate(capacity: offsets.count)
    failed.initialize(repeating: false, count: offsets.count)
    scratch = .allocate(capacity: self.threads * 2 * chunkFloats)
  }

  deinit {
    for d in decoders { libdeflate_free_decompressor(d) }
    raw.deallocate()
    scratch.deallocate()
    failed.deallocate()
    for k in kept { k.chunks.deallocate() }
  }

  /// The rows of the band starting at row `band` (the last band may be short).
  func rows(ofBand band: Int) -> Range<Int> { band..<min(band + chunk[0], shape[0]) }

  /// Rows `rows` (every other dimension whole) into `destination`, row-major. A band holding a chunk the file
  /// never wrote is read by `unwritten(rows, into:)` (HDF5, which fills it), the other bands here.
  func read(
    rows: Range<Int>, into destination: UnsafeMutablePointer<Float>,
    unwritten: (Range<Int>, UnsafeMutablePointer<Float>) throws -> Void
  ) throws {
    let bandRows = chunk[0]
    var band = rows.lowerBound - rows.lowerBound % bandRows
    while band < rows.upperBound {
      let whole = self.rows(ofBand: band)
      let take = max(rows.lowerBound, band)..<min(rows.upperBound, whole.upperBound)
      var slot = kept.lastIndex { $0.band == band }
      if slot == nil {
        do { try fetch(band) } catch is Unwritten {
          try unwritten(take, destination + (take.lowerBound - rows.lowerBound) * rowSize)
          band += bandRows
          continue
        }
        if take == whole {
          try decode(band) { k, values in self.place(values, band, self.offsets[k], take, rows, destination) }
          band += bandRows
          continue
        }
        // A band needed in part: decoded whole and kept for the reads that need the rest.
        let chunks =
          kept.count == keptLimit ? kept.removeFirst().chunks : .allocate(capacity: offsets.count * chunkFloats)
        do {
          try decode(band) { k, values in (chunks + k * self.chunkFloats).update(from: values, count: self.chunkFloats)
          }
        } catch {
          chunks.deallocate()
          throw error
        }
        kept.append((band, chunks))
        slot = kept.count - 1
      } else if slot! != kept.count - 1 {
        kept.append(kept.remove(at: slot!))  // the most recently used last
        slot = kept.count - 1
      }
      let chunks = kept[slot!].chunks
      for k in offsets.indices { place(chunks + k * chunkFloats, band, offsets[k], take, rows, destination) }
      band += bandRows
    }
  }

  /// Reads the band's chunks as stored (HDF5, this thread).
  private func fetch(_ band: Int) throws {
    var origin = [hsize_t](repeating: 0, count: shape.count)
    var total = 0
    for k in offsets.indices {
      origin[0] = hsize_t(band)
      for d in 1..<shape.count { origin[d] = hsize_t(offsets[k][d - 1]) }
      var stored: hsize_t = 0, address: haddr_t = 0
      guard H5Dget_chunk_info_by_coord(dataset, &origin, &masks[k], &address, &stored) >= 0 else {
        throw DecodeFailure(rows: rows(ofBand: band))
      }
      guard stored > 0, address != haddr_t.max else { throw Unwritten() }  // HADDR_UNDEF: never written
      let size = Int(stored)
      if total + size > rawCapacity {  // (compressed larger than raw: a stored chunk may be, slightly)
        let grown = UnsafeMutableRawPointer.allocate(byteCount: 2 * (total + size), alignment: 64)
        grown.copyMemory(from: raw, byteCount: total)
        raw.deallocate()
        raw = grown
        rawCapacity = 2 * (total + size)
      }
      rawOffsets[k] = total
      rawSizes[k] = size
      guard H5Dread_chunk(dataset, mm_h5p_default(), &origin, &masks[k], raw + total) >= 0 else {
        throw DecodeFailure(rows: rows(ofBand: band))
      }
      total += (size + 63) & ~63
    }
  }

  /// Decodes the fetched chunks on `threads` threads (chunk k on thread k mod threads) and hands each to `use`
  /// (on that thread: `use` must touch only chunk k's own memory).
  private func decode(_ band: Int, _ use: @escaping (Int, UnsafePointer<Float>) -> Void) throws {
    let n = offsets.count, workers = threads
    let work = { (w: Int) in
      for k in stride(from: w, to: n, by: workers) {
        let values = self.decode(chunk: k, thread: w)
        if let values { use(k, values) }
        self.failed[k] = values == nil
      }
    }
    if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
    for k in 0..<n where failed[k] { throw DecodeFailure(rows: rows(ofBand: band)) }
  }

  /// Chunk k of the fetched band, decoded in thread w's scratch; nil when its bytes do not decode.
  private func decode(chunk k: Int, thread w: Int) -> UnsafePointer<Float>? {
    let bytes = chunkFloats * 4, input = raw + rawOffsets[k], stored = rawSizes[k], mask = masks[k]
    let decoded = scratch + (2 * w) * chunkFloats, unshuffled = decoded + chunkFloats
    let deflateBit: UInt32 = shuffled ? 2 : 1, shuffleBit: UInt32 = 1
    // A filter whose bit is set in the mask was skipped for this chunk (HDF5 stores such a chunk as it was).
    if mask & deflateBit == 0 {
      var produced = 0
      let status = libdeflate_zlib_decompress(decoders[w], input, stored, decoded, bytes, &produced)
      guard status == LIBDEFLATE_SUCCESS, produced == bytes else { return nil }
    } else {
      guard stored == bytes else { return nil }
      UnsafeMutableRawPointer(decoded).copyMemory(from: input, byteCount: bytes)
    }
    guard shuffled && mask & shuffleBit == 0 else { return UnsafePointer(decoded) }
    Self.unshuffle(UnsafeRawPointer(decoded).assumingMemoryBound(to: UInt8.self), into: unshuffled, count: chunkFloats)
    return UnsafePointer(unshuffled)
  }

  /// HDF5's shuffle, undone for 4-byte values: byte j of value i is stored at j·n + i.
  static func unshuffle(_ bytes: UnsafePointer<UInt8>, into values: UnsafeMutablePointer<Float>, count n: Int) {
    let b0 = bytes, b1 = bytes + n, b2 = bytes + 2 * n, b3 = bytes + 3 * n
    let out = UnsafeMutableRawPointer(values).assumingMemoryBound(to: UInt32.self)
    for i in 0..<n {
      out[i] = UInt32(b0[i]) | UInt32(b1[i]) << 8 | UInt32(b2[i]) << 16 | UInt32(b3[i]) << 24
    }
  }

  /// Copies the rows `take` of a decoded chunk (band, offset) into the block of `rows`: along the last
  /// dimension one run per (row, middle index), clipped where the chunk runs past the dataset's edge.
  private func place(
    _ values: UnsafePointer<Float>, _ band: Int, _ offset: [Int], _ take: Range<Int>, _ rows: Range<Int>,
    _ destination: UnsafeMutablePointer<Float>
  ) {
    let rank = shape.count
    if rank == 1 {
      (destination + (take.lowerBound - rows.lowerBound)).update(
        from: values + (take.lowerBound - band), count: take.count)
      return
    }
    let last = rank - 1
    let run = min(chunk[last], shape[last] - offset[last - 1])
    if rank == 3 {  // [N, T, D], the modalities' shape: one run per (row, step)
      let c1 = chunk[1], c2 = chunk[2], d2 = shape[2], steps = min(c1, shape[1] - offset[0])
      for r in take {
        let source = values + (r - band) * c1 * c2
        let target = destination + (r - rows.lowerBound) * rowSize + offset[0] * d2 + offset[1]
        for i in 0..<steps { (target + i * d2).update(from: source + i * c2, count: run) }
      }
      return
    }
    // Middle dimensions 1..<last: their index inside the chunk, counted like an odometer.
    var index = [Int](repeating: 0, count: max(last - 1, 0))
    let middle = (1..<last).map { d in min(chunk[d], shape[d] - offset[d - 1]) }
    let runs = middle.reduce(1, *), chunkRow = chunkFloats / chunk[0]
    for r in take {
      let source = values + (r - band) * chunkRow, target = destination + (r - rows.lowerBound) * rowSize
      for i in index.indices { index[i] = 0 }
      for _ in 0..<runs {
        var s = 0, t = offset[last - 1]
        var chunkStride = chunk[last], dataStride = shape[last]
        for d in stride(from: last - 1, through: 1, by: -1) {
          s += index[d - 1] * chunkStride
          t += (offset[d - 1] + index[d - 1]) * dataStride
          chunkStride *= chunk[d]
          dataStride *= shape[d]
        }
        (target + t).update(from: source + s, count: run)
        var d = index.count - 1
        while d >= 0 {
          index[d] += 1
          if index[d] < middle[d] { break }
          index[d] = 0
          d -= 1
        }
      }
    }
  }
}
