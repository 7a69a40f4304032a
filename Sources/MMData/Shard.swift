import MMCore
import MMDistributed
import MMTensor

/// Per-feature z-score statistics in fused feature order (the model's input columns), computed over the
/// valid, finite steps of the training rows of all ranks.
public struct FeatureStatistics: Equatable {
  public var mean: [Float]
  public var std: [Float]
  public init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }
  public static func identity(_ d: Int) -> FeatureStatistics {
    .init(mean: .init(repeating: 0, count: d), std: .init(repeating: 1, count: d))
  }
  /// Each modality's mean and std, from its columns of the fused row (LoadOptions.columns).
  public func split(_ columns: [Range<Int>]) -> (mean: [[Float]], std: [[Float]]) {
    (columns.map { Array(mean[$0]) }, columns.map { Array(std[$0]) })
  }
}

/// What a rank needs to load its rows.
public struct LoadOptions {
  public var modalities: [DataSchema.Modality]  // model order
  public var steps: [Int]  // S_m per modality, model order
  public var align: Align
  public var normalize: Normalize
  public var missing: MissingPolicy
  public var task: TaskKind
  public var classes: Int?  // nil: inferred from the labels (max + 1)
  public var validationMask: [Bool]  // [N]
  public var statistics: FeatureStatistics?  // given (resume/--init): used instead of recomputing
  public var stream: StreamOptions?  // data.stream: rows stay in the file (ShardStream)
  /// data.mmap: rows stored as float32 rows are read in place from the file's pages (MappedRows).
  public var mmap = false
  public var target: TargetKind = .sample  // step: /labels [N, T] or [N, T, K] (StepLabels)

  public init(
    modalities: [DataSchema.Modality], steps: [Int], align: Align, normalize: Normalize, missing: MissingPolicy,
    task: TaskKind, classes: Int?, validationMask: [Bool], statistics: FeatureStatistics? = nil,
    stream: StreamOptions? = nil
  ) {
    self.modalities = modalities; self.steps = steps; self.align = align; self.normalize = normalize
    self.missing = missing; self.task = task; self.classes = classes; self.validationMask = validationMask
    self.statistics = statistics; self.stream = stream
  }

  public var features: Int { modalities.reduce(0) { $0 + $1.features } }
  /// The fused rows' steps: the longest modality's.
  public var maxSteps: Int { steps.max() ?? 1 }
}

/// The rows one rank owns, aligned, fused, normalised: ready to be gathered into batches.
///
/// Modality m occupies columns `columns[m]` of each fused row and its first `modalitySteps[m]` steps (its own
/// time axis; later steps are zero), so one modality's encoder reads its columns in place.
public final class Shard {
  public let rows: Range<Int>  // global row ids owned by this rank
  public let steps: Int  // S = max over modalities of S_m
  public let features: Int  // D (fused)
  public let columns: [Range<Int>]  // per modality: its columns of the fused row
  public let modalitySteps: [Int]  // per modality: S_m
  public let x: Buffer  // (n, S, D); empty when streamed or mapped
  let stream: ShardStream?  // data.stream: the rows, prepared from the file as they are asked for
  let mapped: MappedRows?  // data.mmap: the rows where the file stores them
  public let lengths: [Int32]  // (n) fused length: the longest modality's, in 1...S
  public let modalityLengths: [Int32]  // (n, M) valid steps of each modality on its own grid, 0...S_m
  public let targets: [Float]  // (n * targetWidth): class ids as Float, or regression targets
  public let targetWidth: Int  // 1, or K for [N, K] regression labels; per-step labels: S·K
  /// 1, or S for per-step labels (`task.target: step`): a sample's targets are then (S, K), sample-major.
  public internal(set) var targetSteps = 1
  /// Targets per step (per sample when not per step): 1, or K regression outputs.
  public var targetsPerStep: Int { targetWidth / targetSteps }
  public let classes: Int  // classification: C; regression: K
  public let statistics: FeatureStatistics

  init(
    rows: Range<Int>, steps: Int, features: Int, columns: [Range<Int>], modalitySteps: [Int], x: Buffer,
    lengths: [Int32],
    modalityLengths: [Int32], targets: [Float], targetWidth: Int, classes: Int, statistics: FeatureStatistics,
    stream: ShardStream? = nil, mapped: MappedRows? = nil, pending: PendingFinish? = nil
  ) {
    self.rows = rows; self.steps = steps; self.features = features; self.columns = columns;
    self.modalitySteps = modalitySteps
    self.x = x; self.lengths = lengths; self.modalityLengths = modalityLengths
    self.targets = targets; self.targetWidth = targetWidth; self.classes = classes; self.statistics = statistics
    self.stream = stream; self.mapped = mapped; self.pending = pending
    layout = RowLayout(steps: modalitySteps, widths: columns.map(\.count))
  }

  /// Rows left raw by the loader (their statistics came after the read): `gather` finishes them (PendingFinish).
  let pending: PendingFinish?

  /// Where each modality's steps lie in a row (and a record): the fused (S, D) layout when the modalities' steps
  /// are equal, else one block per modality.
  public let layout: RowLayout

  deinit { stream?.close() }

  public var count: Int { rows.count }
  @inline(__always) public func owns(_ row: Int) -> Bool { rows.contains(row) }
  /// Whether the rows stay in the file (`data.stream`).
  public var isStreamed: Bool { stream != nil }
  /// Whether the rows are read in place from the file's pages (`data.mmap`).
  public var isMapped: Bool { mapped != nil }

  /// Throws when the rows' file changed since they were mapped (`data.mmap`; MappedRows.checkUnchanged):
  /// called at every epoch's end, before every checkpoint and after an inference pass. Nothing to check for rows
  /// in memory.
  public func checkSource() throws { try mapped?.checkUnchanged() }

  /// Local sample i, prepared: `layout.floats` floats, valid until the next call.
  @inline(__always) func row(_ i: Int) -> UnsafePointer<Float> {
    if let stream { return stream.row(i) }
    if let mapped { return mapped.row(i) }
    return UnsafePointer(x.pointer + i * layout.floats)
  }

  /// Every in-memory row in the fused (n, S, D) layout whatever `layout` is: modality m in its columns and first
  /// S_m steps, zeros elsewhere (for inspection and tests; training reads `row` and `gather`).
  public var fusedRows: [Float] {
    let S = steps, D = features, M = columns.count
    var out = [Float](repeating: 0, count: count * S * D)
    for i in 0..<(isStreamed ? 0 : count) {
      let row = self.row(i)
      for m in 0..<M {
        for s in 0..<layout.steps[m] {
          for j in 0..<layout.widths[m] {
            out[(i * S + s) * D + columns[m].lowerBound + j] = row[layout.offsets[m] + s * layout.strides[m] + j]
          }
        }
        guard let pending else { continue }
        out.withUnsafeMutableBufferPointer { o in
          for s in 0..<Int(modalityLengths[i * M + m]) {
            pending.finish(
              o.baseAddress! + (i * S + s) * D + columns[m].lowerBound, column: columns[m].lowerBound, columns[m].count)
          }
        }
      }
    }
    return out
  }

  /// An epoch's steps `steps` of `order` (the sampler's): a streamed shard prepares their rows ahead, in this
  /// order; in memory, nothing to do. Call at the start of each epoch, before its first step.
  public func willTrain(order: [Int], sampler: EpochSampler, steps: Range<Int>) {
    guard let stream else { return }
    stream.schedule(steps.map { step in sampler.batch(step, of: order).filter(owns).map { $0 - rows.lowerBound } })
  }

  /// Copies the samples at local indices `local`, then `recordCount` records (`writeRecord`, from other ranks),
  /// into a time-major batch of B = local.count + recordCount: xOut (S, B, D), lengthsOut (B) fused,
  /// modalityLengthsOut (M, B), targetsOut (B, targetWidth), samplesOut (B) global row ids.
  public func gather(
    _ local: UnsafeBufferPointer<Int>, records: UnsafePointer<Float>? = nil, recordCount: Int = 0,
    x xOut: UnsafeMutablePointer<Float>, lengths lengthsOut: UnsafeMutablePointer<Int32>,
    modalityLengths modalityLengthsOut: UnsafeMutablePointer<Int32>, targets targetsOut: UnsafeMutablePointer<Float>,
    samples samplesOut: UnsafeMutablePointer<Int>
  ) {
    let B = local.count + recordCount, S = steps, D = features, W = targetWidth, M = columns.count
    let layout = self.layout, R = layout.floats
    /// A row at `src` into batch column b of the time-major xOut: (S, D) as S copies; blocks, each modality's
    /// S_m steps into its columns (its columns' later steps are left as they are: its encoder reads S_m steps).
    /// Raw rows (`pending`) are finished at each modality's valid steps (modalityLengthsOut, already set).
    func put(_ src: UnsafePointer<Float>, _ b: Int) {
      if layout.interleaved {
        for s in 0..<S { (xOut + (s * B + b) * D).update(from: src + s * D, count: D) }
      } else {
        for m in 0..<M {
          let Dm = layout.widths[m], column = columns[m].lowerBound, block = src + layout.offsets[m]
          for s in 0..<layout.steps[m] { (xOut + (s * B + b) * D + column).update(from: block + s * Dm, count: Dm) }
        }
      }
      finish(b)
    }
    func finish(_ b: Int) {
      guard let pending else { return }
      for m in 0..<M {
        let column = columns[m].lowerBound, Dm = columns[m].count
        for s in 0..<Int(modalityLengthsOut[m * B + b]) {
          pending.finish(xOut + (s * B + b) * D + column, column: column, Dm)
        }
      }
    }
    for b in 0..<local.count {
      let i = local[b]
      lengthsOut[b] = lengths[i]
      for m in 0..<M { modalityLengthsOut[m * B + b] = modalityLengths[i * M + m] }
      if let mapped {  // straight from the file's pages, no row in between
        mapped.copy(i, into: xOut, column: b, of: B, rowFloats: D, columns: columns)
        finish(b)
      } else {
        put(row(i), b)
      }
      for k in 0..<W { targetsOut[b * W + k] = targets[i * W + k] }
      samplesOut[b] = rows.lowerBound + i
    }
    guard let records else { return }
    for r in 0..<recordCount {
      let b = local.count + r, src = records + r * recordFloats, tail = src + R
      lengthsOut[b] = Int32(bitPattern: tail[0].bitPattern)
      for m in 0..<M { modalityLengthsOut[m * B + b] = Int32(bitPattern: tail[1 + m].bitPattern) }
      put(src, b)
      for k in 0..<W { targetsOut[b * W + k] = tail[1 + M + k] }
      samplesOut[b] = Int(tail[1 + M + W].bitPattern) | Int(tail[2 + M + W].bitPattern) << 32
    }
  }

  // MARK: - Records (one sample, sent to the rank that processes it: BatchBalancer)

  /// Floats of one sample's record: its row (`layout`), fused length, M modality lengths, targetWidth targets and the
  /// global row id (low, high 32 bits); integers are stored as their bit patterns.
  public var recordFloats: Int { layout.floats + 1 + columns.count + targetWidth + 2 }

  /// Writes local sample `i` as a record at `out` (recordFloats floats).
  public func writeRecord(_ i: Int, to out: UnsafeMutablePointer<Float>) {
    let R = layout.floats, W = targetWidth, M = columns.count
    out.update(from: row(i), count: R)
    let tail = out + R
    tail[0] = Float(bitPattern: UInt32(bitPattern: lengths[i]))
    for m in 0..<M { tail[1 + m] = Float(bitPattern: UInt32(bitPattern: modalityLengths[i * M + m])) }
    for k in 0..<W { tail[1 + M + k] = targets[i * W + k] }
    let row = UInt64(rows.lowerBound + i)
    tail[1 + M + W] = Float(bitPattern: UInt32(truncatingIfNeeded: row))
    tail[2 + M + W] = Float(bitPattern: UInt32(truncatingIfNeeded: row >> 32))
  }
}

extension Shard: RecordSource {
  /// A row's work for the batch balancer: its fused length.
  public func work(_ i: Int) -> Int32 { lengths[i] }
}
