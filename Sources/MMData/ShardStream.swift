import Foundation
import MMCore
import MMHDF5
import MMTensor

/// `data.stream`: how big the reader's buffer is and the most rows one training step takes from this rank.
public struct StreamOptions: Sendable {
  public var bufferBytes: Int
  public var rowsPerStep: Int  // the global batch size: a step never takes more of one rank's rows
  public init(bufferBytes: Int, rowsPerStep: Int) { self.bufferBytes = bufferBytes; self.rowsPerStep = rowsPerStep }
}

/// The rows of a streamed shard, prepared from the file on demand instead of held in memory (`data.stream`).
///
/// Training announces an epoch's steps (`schedule`): for each, the local rows it takes. A reader thread then
/// prepares the steps in order, ahead of training, into a ring of slots of one step each (as many as
/// `bufferBytes` holds, at least two), and `row(i)` hands out a row of the step in use, waiting for the reader
/// when it is behind. Asking for a row of a later step frees the slots of the steps before it. Any other row
/// (validation, a row of a step already passed) is prepared on the spot into a scratch row. Either way a row
/// is what the in-memory loader makes of it (`RowAssembler`, the same functions), so results do not change.
final class ShardStream: @unchecked Sendable {
  let assembler: RowAssembler
  let rowFloats: Int  // a row's floats (RowLayout)
  let slotRows: Int  // rows per slot: one step's
  let slotCount: Int
  let slots: Buffer  // (slotCount, slotRows, S, D)
  let scratch: Buffer  // (S, D): a row prepared on the spot

  // The schedule (written by `schedule` only while the reader is idle; read by the reader while it fills).
  private var groupOf: [Int32]  // per local row: its step in this schedule, or -1
  private var slotRow: [Int32]  // per local row: its row within the step's slot
  private var groupStarts: [Int] = [0]
  private var groupRows: [Int] = []  // each step's local rows, ascending

  // Shared state, under `lock`.
  private let lock = NSCondition()
  private var scheduled = 0, filled = 0, current = 0, generation = 0
  private var filling = false, stopping = false
  private var failure: String?
  private let finished = DispatchSemaphore(value: 0)

  private let threadFiles: RowFiles, directFiles: RowFiles

  init(path: String, assembler: RowAssembler, rowCount: Int, options: StreamOptions) throws {
    self.assembler = assembler
    rowFloats = assembler.options.layout.floats
    slotRows = max(1, min(options.rowsPerStep, max(rowCount, 1)))
    let slotBytes = slotRows * rowFloats * MemoryLayout<Float>.size
    // A compressed modality decompresses whole chunks for one row: half the buffer caches chunks (per modality
    // by its share of a row), so rows that share a chunk decompress it once while it stays.
    let file = try HDF5File(path: path, mode: .readOnly)
    let compressed = try assembler.modalities.map { !(try file.storage(of: $0.dataset).filters.isEmpty) }
    file.close()
    let cacheShare = compressed.contains(true) ? 2 : 1
    slotCount = options.bufferBytes / cacheShare / max(slotBytes, 1)
    guard slotCount >= 2 else {
      let need = (2 * cacheShare * slotBytes + (1 << 20) - 1) >> 20
      throw MMError(
        "\(path): data.stream_buffer_mb = \(options.bufferBytes >> 20) holds \(slotCount) step(s) of this rank's rows "
          + "(\(slotRows) rows of \(rowFloats * 4) bytes each); at least two are needed: set data.stream_buffer_mb to \(need) or more"
      )
    }
    slots = Buffer(count: slotCount * slotRows * rowFloats)
    scratch = Buffer(count: rowFloats)
    groupOf = [Int32](repeating: -1, count: rowCount)
    slotRow = [Int32](repeating: 0, count: rowCount)
    let rowBytes = assembler.modalities.map { $0.steps * $0.features }.reduce(0, +)
    let cache = assembler.modalities.enumerated().map { mi, m in
      compressed[mi] ? options.bufferBytes / 2 * (m.steps * m.features) / max(rowBytes, 1) : nil
    }
    // opened first: HDF5 keeps its cache
    threadFiles = try RowFiles(path: path, assembler: assembler, cacheBytes: cache)
    directFiles = try RowFiles(path: path, assembler: assembler, cacheBytes: cache)  // for the dataset, shared by both
    let thread = Thread { [self] in run() }
    thread.name = "mmtrain-stream"
    thread.start()
  }

  /// Stops the reader thread (the shard's deinit). Safe to call twice.
  func close() {
    lock.lock()
    let running = !stopping
    stopping = true
    lock.broadcast()
    lock.unlock()
    if running { finished.wait() }
  }

  /// The steps to come, in order: each the local rows it takes. Replaces any earlier schedule.
  func schedule(_ steps: [[Int]]) {
    lock.lock()
    generation += 1
    while filling { lock.wait() }
    for i in groupRows { groupOf[i] = -1 }
    groupStarts = [0]
    groupRows = []
    for (g, rows) in steps.enumerated() {
      precondition(rows.count <= slotRows, "a step takes \(rows.count) rows; the stream's slots hold \(slotRows)")
      for (k, i) in rows.sorted().enumerated() {
        groupOf[i] = Int32(g)
        slotRow[i] = Int32(k)
        groupRows.append(i)
      }
      groupStarts.append(groupRows.count)
    }
    scheduled = steps.count
    filled = 0; current = 0; failure = nil
    lock.broadcast()
    lock.unlock()
  }

  /// Local row i, prepared: (S, D) floats, valid until the next call.
  @inline(__always)
  func row(_ i: Int) -> UnsafePointer<Float> {
    let g = Int(groupOf[i])
    if g >= 0 {
      lock.lock()
      if g >= current {
        if g > current {
          current = g  // the steps before it are done: their slots are the reader's again
          lock.broadcast()
        }
        while filled <= g && failure == nil { lock.wait() }
        let failed = failure
        lock.unlock()
        if let failed { Self.fail(failed) }
        return UnsafePointer(slots.pointer + ((g % slotCount) * slotRows + Int(slotRow[i])) * rowFloats)
      }
      lock.unlock()
    }
    do {
      try assembler.assemble(i, into: scratch.pointer, from: directFiles)
    } catch {
      Self.fail("\(error)")
    }
    return UnsafePointer(scratch.pointer)
  }

  // MARK: - Private

  /// The reader thread: fills the next scheduled step while a slot is free.
  private func run() {
    lock.lock()
    while !stopping {
      guard filled < scheduled, filled < current + slotCount, failure == nil else {
        lock.wait()
        continue
      }
      let g = filled, gen = generation
      filling = true
      lock.unlock()
      var failed: String?
      do {
        let base = slots.pointer + (g % slotCount) * slotRows * rowFloats
        for k in groupStarts[g]..<groupStarts[g + 1] {
          try assembler.assemble(groupRows[k], into: base + (k - groupStarts[g]) * rowFloats, from: threadFiles)
        }
      } catch {
        failed = "\(error)"
      }
      lock.lock()
      filling = false
      if gen == generation {
        if let failed { failure = failed } else { filled += 1 }
      }
      lock.broadcast()
    }
    lock.unlock()
    finished.signal()
  }

  /// The file changed under a running job (the load read every row once): one line, and the rank exits, which
  /// ends the job. (The batch path cannot throw: it allocates nothing and runs every step.)
  private static func fail(_ message: String) -> Never {
    FileHandle.standardError.write(
      Data("mmtrain: error: \(message) (read while streaming: did the file change during the run?)\n".utf8))
    exit(1)
  }
}

/// The file and one reader per modality, for one thread.
final class RowFiles {
  let file: HDF5File
  let readers: [HDF5RowReader]
  let raw: Buffer  // one modality's raw row, the largest

  init(path: String, assembler: RowAssembler, cacheBytes: [Int?]) throws {
    let file = try HDF5File(path: path, mode: .readOnly)
    self.file = file
    readers = try zip(assembler.modalities, cacheBytes).map { m, bytes in
      try HDF5RowReader(file, m.dataset, cacheBytes: bytes)
    }
    raw = Buffer(count: assembler.modalities.map { $0.steps * $0.features }.max() ?? 1)
  }

  deinit {
    for r in readers { r.close() }
    file.close()
  }
}

/// Prepares one fused row from the file exactly as the in-memory loader does: each modality read raw, then
/// `ShardLoader.finish` (impute, normalise, align) into its columns.
struct RowAssembler: @unchecked Sendable {
  let path: String
  let modalities: [DataSchema.Modality]
  let options: LoadOptions
  let rows: Range<Int>
  let lengths: [[Int]]  // per modality, per local row
  let mean: [[Float]], std: [[Float]]  // per modality
  let columns: [Int]
  var maxSteps: Int { options.maxSteps }
  var features: Int { options.features }

  init(path: String, options o: LoadOptions, rows: Range<Int>, lengths: [[Int]], statistics: FeatureStatistics) {
    self.path = path; modalities = o.modalities; options = o; self.rows = rows; self.lengths = lengths
    (mean, std) = statistics.split(o.columns)
    columns = o.columns.map(\.lowerBound)
  }

  /// Local row i into dst (a row of `options.layout`, written whole).
  func assemble(_ i: Int, into dst: UnsafeMutablePointer<Float>, from files: RowFiles) throws {
    let layout = options.layout
    dst.update(repeating: 0, count: layout.floats)
    for (mi, m) in modalities.enumerated() {
      let L = lengths[mi][i], row = rows.lowerBound + i
      if L > 0 {
        try files.readers[mi].readFloats(
          rows: row..<(row + 1), into: UnsafeMutableBufferPointer(start: files.raw.pointer, count: m.steps * m.features)
        )
      }
      try ShardLoader.finish(
        files.raw.pointer, L, m.features, options, mean[mi], std[mi], dst: dst + layout.offsets[mi],
        steps: options.steps[mi], stride: layout.strides[mi]
      ) { s, j, v in ShardLoader.nonFinite(path, m.dataset, sample: row, step: s, feature: j, v) }
    }
  }
}
