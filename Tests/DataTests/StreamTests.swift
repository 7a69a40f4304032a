import Foundation
import MMConfig
import MMData
import MMDistributed
import MMHDF5
import TestSupport
import XCTest

/// `data.stream`: a streamed shard hands training exactly the rows the in-memory shard holds, in any order the
/// trainer asks (scheduled steps, a schedule from mid-epoch, rows no step announced), and holds only its buffer.
final class StreamTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("stream") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// a [N, 6, 5] with lengths and a few NaNs, b [N, 9, 3] (longer than its steps: interpolated down).
  func write(_ name: String, N: Int, chunkRows: Int? = nil, gzip: Int? = nil, wide: Int = 1) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    let layouts: [(String, [Int], Float)] = [("a", [N, 6, 5 * wide], 0), ("b", [N, 9, 3 * wide], 1)]
    for (m, shape, salt) in layouts {
      let v = (0..<shape.reduce(1, *)).map { (i: Int) -> Float in
        if i % 89 == 7 { return .nan }
        let wave: Float = sin(Float(i) * 0.37 + salt) * 3
        return wave + Float(i % 7)
      }
      if let chunkRows {
        try f.writeFloats(
          "/modalities/\(m)", v, shape: shape, chunkRows: chunkRows, gzipLevel: gzip, shuffle: gzip != nil)
      } else {
        try f.writeFloats("/modalities/\(m)", v, shape: shape)
      }
    }
    try f.writeInt64s("/labels", (0..<N).map { Int64($0 % 3) }, shape: [N])
    try f.writeInt64s("/lengths/a", (0..<N).map { Int64($0 % 7) }, shape: [N])
    f.close()
    return path
  }

  func load(_ path: String, N: Int, rank: Int = 0, world: Int = 1, align: Align = .interpolate, stream: StreamOptions?)
    throws -> Shard
  {
    let file = try HDF5File(path: path)
    defer { file.close() }
    let schema = try DataSchema.read(file)
    let options = LoadOptions(
      modalities: try schema.resolveModalities([]), steps: [4, 7], align: align, normalize: .zscore,
      missing: .mean, task: .multiclass, classes: nil, validationMask: (0..<N).map { $0 % 5 == 2 },
      stream: stream)
    return try ShardLoader.load(file: file, schema: schema, options: options, comm: RankView(rank: rank, size: world))
  }

  /// Gathers local rows `local` of `shard` into a fresh batch: (S, B, D) floats as bit patterns; then the same rows
  /// as records (what the balancer sends another rank: raw in memory, finished when streamed) gathered into a
  /// second batch, which must hold the same.
  func gather(_ shard: Shard, _ local: [Int]) -> [UInt32] {
    let B = local.count, S = shard.steps, D = shard.features, M = shard.columns.count
    var x = [Float](repeating: -1, count: S * B * D), lengths = [Int32](repeating: 0, count: B)
    var ml = [Int32](repeating: 0, count: M * B), targets = [Float](repeating: 0, count: B * shard.targetWidth)
    var samples = [Int](repeating: 0, count: B)
    local.withUnsafeBufferPointer {
      shard.gather($0, x: &x, lengths: &lengths, modalityLengths: &ml, targets: &targets, samples: &samples)
    }
    var record = [Float](repeating: 0, count: shard.recordFloats * B)
    for (k, i) in local.enumerated() {
      record.withUnsafeMutableBufferPointer { shard.writeRecord(i, to: $0.baseAddress! + k * shard.recordFloats) }
    }
    var fromRecords = [Float](repeating: -1, count: S * B * D)
    record.withUnsafeBufferPointer { r in
      [Int]().withUnsafeBufferPointer {
        shard.gather(
          $0, records: r.baseAddress!, recordCount: B, x: &fromRecords, lengths: &lengths, modalityLengths: &ml,
          targets: &targets, samples: &samples)
      }
    }
    XCTAssertEqual(fromRecords.map(\.bitPattern), x.map(\.bitPattern), "rows through records gather the same")
    return x.map(\.bitPattern) + lengths.map { UInt32(bitPattern: $0) } + ml.map { UInt32(bitPattern: $0) }
  }

  func testStreamedRowsAreTheInMemoryRowsBitForBit() throws {
    let N = 41, batch = 6
    for path in [try write("plain.h5", N: N), try write("gzip.h5", N: N, chunkRows: 4, gzip: 4)] {
      for (rank, world) in [(0, 1), (0, 2), (1, 2)] {
        for align in [Align.interpolate, .truncate] {
          let memory = try load(path, N: N, rank: rank, world: world, align: align, stream: nil)
          // 3 steps of rows in the buffer (compressed: half of it caches chunks): the ring wraps many times an epoch.
          let rowBytes = memory.steps * memory.features * 4
          let streamed = try load(
            path, N: N, rank: rank, world: world, align: align,
            stream: StreamOptions(bufferBytes: 6 * batch * rowBytes, rowsPerStep: batch))
          let what = "\(URL(fileURLWithPath: path).lastPathComponent) rank \(rank) of \(world), \(align)"
          XCTAssertTrue(streamed.isStreamed && streamed.x.count == 0, "no shard in memory")
          XCTAssertEqual(streamed.statistics, memory.statistics, what)
          XCTAssertEqual(streamed.lengths, memory.lengths, what)
          XCTAssertEqual(streamed.modalityLengths, memory.modalityLengths, what)
          let sampler = EpochSampler(trainRows: (0..<N).filter { $0 % 5 != 2 }, batchSize: batch, seed: 7)
          for (epoch, first) in [(0, 0), (1, 0), (2, 3)] {  // epoch 2 resumes inside the epoch, at step 3
            let order = sampler.order(epoch: epoch)
            memory.willTrain(order: order, sampler: sampler, steps: first..<sampler.stepsPerEpoch)
            streamed.willTrain(order: order, sampler: sampler, steps: first..<sampler.stepsPerEpoch)
            for step in first..<sampler.stepsPerEpoch {
              let local = sampler.batch(step, of: order).filter(memory.owns).map { $0 - memory.rows.lowerBound }
              XCTAssertEqual(gather(streamed, local), gather(memory, local), "\(what), epoch \(epoch) step \(step)")
              if step == 2 {  // a validation pass in the middle: rows no step announced, prepared on the spot
                let validation = (0..<memory.count).filter { ($0 + memory.rows.lowerBound) % 5 == 2 }
                XCTAssertEqual(gather(streamed, validation), gather(memory, validation), "\(what), validation rows")
              }
            }
          }
          let all = Array(0..<memory.count)  // after the epochs: every row, in order (evaluation, inference)
          XCTAssertEqual(gather(streamed, all), gather(memory, all), what)
        }
      }
    }
  }

  func testAStreamedShardHoldsItsBufferNotItsRows() throws {
    let N = 2048, batch = 16, wide = 32
    // shard rows: a block per modality (steps 4 and 7 differ; RowLayout), 4 x 5w + 7 x 3w floats: 10.7 MB; the
    // buffer: a quarter of it. Compressed, random rows go through
    // HDF5's chunk cache, which must stay inside the buffer too.
    for path in [
      try write("big.h5", N: N, wide: wide), try write("big-gzip.h5", N: N, chunkRows: 16, gzip: 1, wide: wide),
    ] {
      // slack: HDF5's own memory, the test's arrays
      let rowBytes = (4 * 5 + 7 * 3) * wide * 4, buffer = N * rowBytes / 4, slack = 3 << 20
      let before = residentBytes()
      let streamed = try load(path, N: N, stream: StreamOptions(bufferBytes: buffer, rowsPerStep: batch))
      let sampler = EpochSampler(trainRows: (0..<N).filter { $0 % 5 != 2 }, batchSize: batch, seed: 1)
      let order = sampler.order(epoch: 0)
      streamed.willTrain(order: order, sampler: sampler, steps: 0..<sampler.stepsPerEpoch)
      for step in 0..<sampler.stepsPerEpoch { _ = gather(streamed, Array(sampler.batch(step, of: order))) }
      let grown = residentBytes() - before
      XCTAssertLessThan(
        grown, buffer + slack,
        "\(path): an epoch through a streamed shard: \(grown) bytes resident for a \(buffer)-byte buffer")
      let memory = try load(path, N: N, stream: nil)
      XCTAssertGreaterThan(
        residentBytes() - before - grown, N * rowBytes * 9 / 10, "the in-memory shard is resident (the measure works)")
      XCTAssertEqual(memory.count, streamed.count)
    }
  }

  func testABufferTooSmallForTwoStepsIsOneLine() throws {
    let path = try write("d.h5", N: 20)
    XCTAssertThrowsError(try load(path, N: 20, stream: StreamOptions(bufferBytes: 1 << 10, rowsPerStep: 8))) { error in
      XCTAssertEqual(
        "\(error)",
        "\(path): data.stream_buffer_mb = 0 holds 0 step(s) of this rank's rows (8 rows of 164 bytes each); "
          + "at least two are needed: set data.stream_buffer_mb to 1 or more")
    }
  }

  /// This process's resident memory (/proc/self/statm), in bytes.
  func residentBytes() -> Int {
    let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
  }
}
