import Foundation
import MMConfig
import MMData
import MMDistributed
import MMHDF5
import TestSupport
import XCTest

/// How a file is stored never changes what is loaded: the same rows, bit for bit, from contiguous, chunked
/// and gzip + shuffle datasets, for every rank of 1, 2 and 3 (shards that start and end inside chunks).
/// A damaged chunk and a missing filter stop the load with one line.
final class StorageLayoutTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("layout") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  let N = 29
  let a = (T: 6, D: 5), b = (T: 9, D: 3)  // b is longer than data.steps: interpolation reads it twice

  /// Two modalities with lengths, a NaN or two, labels; `store` writes each modality dataset.
  func write(_ name: String, chunkRows: Int?, gzip: Int? = nil, shuffle: Bool = false) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    func values(_ n: Int, _ salt: Float) -> [Float] {
      (0..<n).map { i in i % 97 == 13 ? .nan : sin(Float(i) * 0.37 + salt) * 3 + Float(i % 7) }
    }
    for (m, shape, salt) in [("a", [N, a.T, a.D], Float(0)), ("b", [N, b.T, b.D], Float(1))] {
      let v = values(shape.reduce(1, *), salt)
      if let chunkRows {
        try f.writeFloats("/modalities/\(m)", v, shape: shape, chunkRows: chunkRows, gzipLevel: gzip, shuffle: shuffle)
      } else {
        try f.writeFloats("/modalities/\(m)", v, shape: shape)
      }
    }
    try f.writeInt64s("/labels", (0..<N).map { Int64($0 % 3) }, shape: [N])
    try f.writeInt64s("/lengths/a", (0..<N).map { Int64($0 % (a.T + 1)) }, shape: [N])
    try f.writeInt64s("/lengths/b", (0..<N).map { Int64(b.T - $0 % 4) }, shape: [N])
    f.close()
    return path
  }

  func load(_ path: String, rank: Int, world: Int, align: Align, missing: MissingPolicy = .mean, mmap: Bool = false)
    throws -> Shard
  {
    let file = try HDF5File(path: path)
    defer { file.close() }
    let schema = try DataSchema.read(file)
    let modalities = try schema.resolveModalities([])
    var options = LoadOptions(
      modalities: modalities, steps: [4, 7], align: align, normalize: .zscore, missing: missing,
      task: .multiclass, classes: nil, validationMask: (0..<N).map { $0 % 5 == 2 })
    options.mmap = mmap
    return try ShardLoader.load(file: file, schema: schema, options: options, comm: RankView(rank: rank, size: world))
  }

  func testShardsAreBitIdenticalWhateverTheStorage() throws {
    let plain = try write("plain.h5", chunkRows: nil)
    let layouts = [
      try write("chunks.h5", chunkRows: 4), try write("gzip.h5", chunkRows: 5, gzip: 4, shuffle: true),
      try write("rows.h5", chunkRows: 1, gzip: 1),
    ]
    for align in [Align.interpolate, .truncate] {
      for world in 1...3 {
        for rank in 0..<world {
          let want = try load(plain, rank: rank, world: world, align: align)
          // data.mmap reads the plain and the uncompressed chunked rows in place, and copies compressed ones.
          let mapped = [plain, layouts[0], layouts[1]]
          for (path, mmap) in layouts.map({ ($0, false) }) + mapped.map({ ($0, true) }) {
            let got = try load(path, rank: rank, world: world, align: align, mmap: mmap)
            let what =
              "\(URL(fileURLWithPath: path).lastPathComponent), \(align), rank \(rank) of \(world), mmap \(mmap)"
            XCTAssertEqual(got.isMapped, mmap && !path.hasSuffix("gzip.h5"), what)
            XCTAssertEqual(got.rows, want.rows, what)
            XCTAssertEqual(got.fusedRows.map(\.bitPattern), want.fusedRows.map(\.bitPattern), what)
            XCTAssertEqual(got.statistics, want.statistics, what)
            XCTAssertEqual(got.lengths, want.lengths, what)
            XCTAssertEqual(got.modalityLengths, want.modalityLengths, what)
          }
          XCTAssertFalse(want.fusedRows.contains { !$0.isFinite }, "NaNs imputed")
        }
      }
    }
  }

  /// A file behind a user block (h5py's `userblock_size`): its rows read in place are those HDF5 reads, bit for bit.
  func testRowsReadInPlaceBehindAUserBlock() throws {
    let path = fixturesDirectory().appendingPathComponent("userblock.h5").path
    for align in [Align.interpolate, .truncate] {
      for world in 1...2 {
        for rank in 0..<world {
          let copied = try load(path, rank: rank, world: world, align: align)
          let mapped = try load(path, rank: rank, world: world, align: align, mmap: true)
          let what = "\(align), rank \(rank) of \(world)"
          XCTAssertTrue(mapped.isMapped, what)
          XCTAssertEqual(mapped.fusedRows.map(\.bitPattern), copied.fusedRows.map(\.bitPattern), what)
          XCTAssertEqual(mapped.statistics, copied.statistics, what)
        }
      }
    }
  }

  /// The loader sums the statistics while it reads and finishes the rows afterwards; this is the plain two-pass
  /// order it replaced (statistics over the file, then impute, normalise, align each row), bit for bit.
  func testMatchesTheTwoPassOrderBitForBit() throws {
    let plain = try write("plain.h5", chunkRows: nil), gzip = try write("gzip.h5", chunkRows: 4, gzip: 4, shuffle: true)
    let mask = (0..<N).map { $0 % 5 == 2 }
    for (align, steps) in [
      (Align.interpolate, [4, 7]), (.interpolate, [6, 12]), (.truncate, [4, 7]), (.pad, [6, 9]),
    ] {
      for missing in [MissingPolicy.mean, .zero] {
        for normalize in [Normalize.zscore, .none] {
          let want = try twoPass(plain, steps: steps, align: align, missing: missing, normalize: normalize, mask: mask)
          for (path, mmap) in [(plain, false), (gzip, false), (plain, true)] {
            let file = try HDF5File(path: path)
            let schema = try DataSchema.read(file)
            var options = LoadOptions(
              modalities: try schema.resolveModalities([]), steps: steps, align: align, normalize: normalize,
              missing: missing, task: .multiclass, classes: nil, validationMask: mask)
            options.mmap = mmap
            let got = try ShardLoader.load(
              file: file, schema: schema, options: options, comm: SingleProcessCommunicator())
            let what =
              "\(URL(fileURLWithPath: path).lastPathComponent) \(align) \(steps) \(missing) \(normalize) mmap \(mmap)"
            XCTAssertEqual(got.isMapped, mmap, what)
            XCTAssertEqual(got.fusedRows.map(\.bitPattern), want.x.map(\.bitPattern), what)
            XCTAssertEqual(got.statistics, want.stats, what)
          }
        }
      }
    }
  }

  /// Statistics in float64 over every training row's valid, finite steps (one pass over the file), then each
  /// row imputed, normalised and aligned (a second pass).
  func twoPass(_ path: String, steps: [Int], align: Align, missing: MissingPolicy, normalize: Normalize, mask: [Bool])
    throws
    -> (x: [Float], stats: FeatureStatistics)
  {
    let file = try HDF5File(path: path)
    let shapes = [("a", a.T, a.D), ("b", b.T, b.D)]
    let S = steps.max()!, D = a.D + b.D
    var mean: [Float] = [], std: [Float] = []
    var x = [Float](repeating: 0, count: N * S * D)
    var column = 0
    for (mi, (m, T, Dm)) in shapes.enumerated() {
      let raw = try file.readFloats("/modalities/\(m)"), lengths = try file.readInt64s("/lengths/\(m)").map(Int.init)
      var sum = [Double](repeating: 0, count: Dm), squares = sum, count = sum
      for i in 0..<N where !mask[i] {
        for s in 0..<lengths[i] {
          for j in 0..<Dm {
            let v = raw[(i * T + s) * Dm + j]
            if v.isFinite { sum[j] += Double(v); squares[j] += Double(v) * Double(v); count[j] += 1 }
          }
        }
      }
      let mu = (0..<Dm).map { count[$0] > 0 ? sum[$0] / count[$0] : 0 }
      let sd = (0..<Dm).map { count[$0] > 0 ? max(squares[$0] / count[$0] - mu[$0] * mu[$0], 0).squareRoot() : 1 }
      let needed = normalize == .zscore || missing == .mean  // otherwise nothing reads them: the identity
      let m32 = needed ? mu.map(Float.init) : [Float](repeating: 0, count: Dm)
      let s32 = sd.map { needed && normalize == .zscore && $0 > 1e-6 ? Float($0) : 1 }
      mean += m32; std += s32
      for i in 0..<N {
        var row = Array(raw[(i * T * Dm)..<((i + 1) * T * Dm)])
        for k in 0..<(lengths[i] * Dm) where !row[k].isFinite { row[k] = missing == .zero ? 0 : m32[k % Dm] }
        if normalize == .zscore { for k in 0..<(lengths[i] * Dm) { row[k] = (row[k] - m32[k % Dm]) / s32[k % Dm] } }
        _ = x.withUnsafeMutableBufferPointer { out in
          Resample.align(
            align, src: row, validSteps: lengths[i], features: Dm, dst: out.baseAddress! + i * S * D + column,
            steps: steps[mi], dstStride: D)
        }
      }
      column += Dm
    }
    return (x, FeatureStatistics(mean: mean, std: std))
  }

  func testNaNUnderMissingErrorIsNamedWhateverTheStorage() throws {
    let plain = try write("plain.h5", chunkRows: nil), gzip = try write("gzip.h5", chunkRows: 4, gzip: 4, shuffle: true)
    // Interpolating reads one modality after the other; a copy reads whole rows, so it meets b's NaN in sample 0 first.
    let first = [
      Align.interpolate: "/modalities/a has nan at sample 6, step 5, feature 2",
      .truncate: "/modalities/b has nan at sample 0, step 4, feature 1",
    ]
    for (path, align, mmap) in [
      (plain, Align.interpolate, false), (gzip, .interpolate, false), (plain, .truncate, false),
      (gzip, .truncate, false),
      (plain, .truncate, true), (plain, .interpolate, true),
    ] {
      XCTAssertThrowsError(try load(path, rank: 0, world: 1, align: align, missing: .error, mmap: mmap)) { error in
        XCTAssertEqual("\(error)", "\(path): \(first[align]!) (set data.missing: zero or mean to impute)")
      }
    }
  }

  func testCorruptChunkStopsTheLoadNamingTheRows() throws {
    let path = try write("gzip.h5", chunkRows: 4, gzip: 4, shuffle: true)
    let at = try XCTUnwrap(try HDF5File(path: path).chunkBytes("/modalities/b", row: 17))
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    for k in (at.lowerBound + 2)..<min(at.lowerBound + 12, at.upperBound) { bytes[k] ^= 0x5a }
    try bytes.write(to: URL(fileURLWithPath: path))
    XCTAssertThrowsError(try load(path, rank: 0, world: 1, align: .truncate)) { error in
      let line = "\(error)"
      XCTAssertTrue(
        line.hasPrefix("\(path): dataset '/modalities/b' rows 16..<20 cannot be read: their chunk is corrupt"), line)
      XCTAssertFalse(line.contains("\n"), line)
    }
    XCTAssertNoThrow(
      try load(path, rank: 0, world: 2, align: .truncate), "rank 0 of 2 owns rows 0..<15, before the damage")
  }

  func testMissingFilterStopsTheLoadWithOneLine() throws {
    let path = fixturesDirectory().appendingPathComponent("lzf_modality.h5").path
    let file = try HDF5File(path: path)
    let schema = try DataSchema.read(file)
    let options = LoadOptions(
      modalities: try schema.resolveModalities([]), steps: [2, 2], align: .pad, normalize: .zscore,
      missing: .error, task: .binary, classes: nil, validationMask: [Bool](repeating: false, count: 6))
    XCTAssertThrowsError(
      try ShardLoader.load(file: file, schema: schema, options: options, comm: SingleProcessCommunicator())
    ) { error in
      let line = "\(error)"
      XCTAssertTrue(
        line.hasPrefix(
          "\(path): dataset '/modalities/text' is stored with filter 32000 (lzf), which this HDF5 library does not have"
        ), line)
      XCTAssertTrue(line.contains("h5repack -f NONE"), line)
    }
  }
}

/// One rank of `size`, alone: collectives are identities (each rank's statistics are its own rows'), which is
/// enough to compare one rank's shard across storage layouts.
final class RankView: Communicator {
  let rank: Int, size: Int
  init(rank: Int, size: Int) { self.rank = rank; self.size = size }
  func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
  func allreduceSum(_ values: inout [Double]) {}
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float16>, count: Int) {}
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Int64>, count: Int) {}
  func allreduceSum(_ values: inout [Int64]) {}
  func allreduceMax(_ values: inout [Int64]) {}
  func progress() {}
  func waitAll() {}
  func allreduceMax(_ value: Int) -> Int { value }
  func allreduceMin(_ value: Int) -> Int { value }
  func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {}
  func broadcast(_ bytes: inout [UInt8], root: Int) {}
  func allgather(_ value: Int) -> [Int] { [Int](repeating: value, count: size) }
  func exchange(
    send: UnsafePointer<Float>, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
    receive: UnsafeMutablePointer<Float>, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>,
    recordFloats: Int
  ) {}
  func startWatchdog(timeoutSeconds: Double) {}
  func noteStep(_ step: Int) {}
  func barrier() {}
  func split(color: Int, key: Int) -> Communicator { self }
  func abort(code: Int32) -> Never { fatalError("abort \(code)") }
  func finalize() {}
}
