#if canImport(Glibc)
  import Glibc
#endif
import MMCore
import MMDistributed
import MMHDF5
import MMTensor

/// The in-memory features of `data.align: truncate | pad`, where aligning a modality is a copy of its first
/// min(L, S_m) steps: every modality's block of rows is read at once, and each fused row of the shard is
/// written whole, in order (one pass over the shard's memory, not one per modality).
///
/// With the statistics known (given, or not needed), each row is finished (imputed, normalised) as it is
/// written, while its block is in cache. When they must be computed, the read sums them (float64, training
/// rows' valid, finite steps) and writes the raw steps, and the shard is left raw: each batch finishes its
/// rows as it gathers them (PendingFinish), so there is no second pass over the shard. Per value that is the
/// same arithmetic, in the same order, as `finish` (impute, then (x - mean) / std): a batch is bit-identical
/// to one gathered from rows finished one by one.
extension ShardLoader {
  struct Features {
    var x: Buffer  // (n, S, D)
    var lengths: [Int32]  // (n) fused: the longest modality's aligned length, at least 1
    var modalityLengths: [Int32]  // (n, M)
    var statistics: FeatureStatistics
    /// The rows are raw: `Shard.gather` finishes them (the statistics were computed by this read).
    var pending = false
  }

  static func loadCopied(
    _ file: HDF5File, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]], _ comm: Communicator
  ) throws -> Features {
    precondition(o.align != .interpolate, "interpolated rows are finished one by one (ShardLoader.load)")
    let path = file.path, D = o.features, n = rows.count
    let computed = o.statistics == nil && (o.normalize == .zscore || o.missing == .mean)
    let columns = o.columns, layout = o.layout
    // Aligning keeps min(L, S_m) steps of each modality: the lengths are known before a value is read.
    let (modalityLengths, modelLengths) = alignedLengths(lengths, o)
    let x = Buffer(count: n * layout.floats, prefault: false)  // written whole below, its pages mapped block by block
    let offsets = columns.map { 3 * $0.lowerBound }  // modality mi's sums, squares and counts: acc[offsets[mi]...]
    var acc = [Double](repeating: 0, count: 3 * D)
    let datasets = o.modalities.map(\.dataset), rowSizes = o.modalities.map { $0.steps * $0.features }
    let fused = Rows(
      x: x.pointer, layout: layout, columns: columns, modalities: o.modalities, lengths: modelLengths,
      modalityLengths: modalityLengths, path: path, first: rows.lowerBound)
    let given = o.statistics ?? .identity(D)
    try comm.agree {
      try acc.withUnsafeMutableBufferPointer { acc in
        try ChunkedRows.forEach(file, datasets, rows: fused.range(n), rowSizes: rowSizes) { first, count, raw in
          fused.populate(first..<(first + count))
          for r in 0..<count {
            let i = first + r, training = !o.validationMask[fused.first + i]
            for (mi, m) in o.modalities.enumerated() {
              try check(
                raw[mi] + r * rowSizes[mi], lengths[mi][i], m, sample: fused.first + i, o, path,
                sums: computed && training ? acc.baseAddress! + offsets[mi] : nil)
            }
            fused.place(i, raw, row: r, rowSizes)
            if !computed { try fused.finish(i, given.mean, given.std, o) }
          }
        }
      }
    }
    guard computed else {
      return Features(
        x: x, lengths: modelLengths, modalityLengths: modalityLengths, statistics: given)
    }
    // No second pass over the shard: each batch finishes its rows as it gathers them (PendingFinish).
    return Features(
      x: x, lengths: modelLengths, modalityLengths: modalityLengths,
      statistics: allReduced(acc, offsets: offsets, o, comm), pending: true)
  }

  /// The statistics of every rank's training rows from this rank's float64 sums (modality m's sum, squares and
  /// counts at acc[offsets[m]...]): all-reduced one modality at a time, then finalised. Collective.
  static func allReduced(_ acc: [Double], offsets: [Int], _ o: LoadOptions, _ comm: Communicator) -> FeatureStatistics {
    var mean: [Float] = [], std: [Float] = []
    for (mi, m) in o.modalities.enumerated() {
      var sums = Array(acc[offsets[mi]..<(offsets[mi] + 3 * m.features)])
      comm.allreduceSum(&sums)
      let (mu, sd) = finalize(sums, m.features, o.normalize, channels: m.imageShape?.first, tokens: m.kind == .tokens)
      mean += mu; std += sd
    }
    return FeatureStatistics(mean: mean, std: std)
  }

  /// The shard's fused rows (n, S, D) as the loader writes them: where each modality's kept steps go.
  struct Rows {
    let x: UnsafeMutablePointer<Float>
    let layout: RowLayout
    let columns: [Range<Int>]
    let modalities: [DataSchema.Modality]
    let lengths: [Int32]  // (n) fused
    let modalityLengths: [Int32]  // (n, M) kept steps
    let path: String
    let first: Int  // global id of local row 0

    func range(_ n: Int) -> Range<Int> { first..<(first + n) }

    /// Maps the pages of local rows `local` (MADV_POPULATE_WRITE) just before they are written, so the kernel's
    /// zeroed pages are still in cache when the rows overwrite them: 5-10% faster than mapping the whole
    /// shard up front (MAP_POPULATE), which writes every zero out to memory first (Performance.md). Where the
    /// kernel lacks it (before Linux 5.14) the rows' writes map the pages instead.
    func populate(_ local: Range<Int>) {
      #if canImport(Glibc)
        let page = 4096, R = layout.floats, bytes = R * MemoryLayout<Float>.size
        guard local.count * bytes >= 1 << 16 else { return }  // left to the writes (a shard this small is on the heap)
        let start = Int(bitPattern: x + local.lowerBound * R) & ~(page - 1)
        let end = (Int(bitPattern: x + local.upperBound * R) + page - 1) & ~(page - 1)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 23)  // MADV_POPULATE_WRITE
      #endif
    }

    /// Local row i's kept steps from each modality's block (`raw[mi]`: rows of `rowSizes[mi]` floats, T_m steps
    /// of D_m features, the row at `row`), step after step: the fused row's memory in order.
    @inline(__always)
    func place(_ i: Int, _ raw: [UnsafeMutablePointer<Float>], row r: Int, _ rowSizes: [Int]) {
      let row = x + i * layout.floats, M = modalities.count
      for s in 0..<Int(lengths[i]) {
        for mi in 0..<M where s < Int(modalityLengths[i * M + mi]) {
          let Dm = modalities[mi].features
          (row + layout.offsets[mi] + s * layout.strides[mi]).update(
            from: raw[mi] + r * rowSizes[mi] + s * Dm, count: Dm)
        }
      }
    }

    /// Imputes and normalises local row i's kept steps in place (fused order statistics), step after step.
    @inline(__always)
    func finish(_ i: Int, _ mean: UnsafePointer<Float>, _ std: UnsafePointer<Float>, _ o: LoadOptions) throws {
      let row = x + i * layout.floats, M = modalities.count
      for s in 0..<Int(lengths[i]) {
        for (mi, m) in modalities.enumerated() where s < Int(modalityLengths[i * M + mi]) {
          let c = columns[mi].lowerBound
          try finishStep(row + layout.offsets[mi] + s * layout.strides[mi], o, mean + c, std + c, m.features) { j, v in
            nonFinite(path, m.dataset, sample: first + i, step: s, feature: j, v)
          }
        }
      }
    }
  }

  /// Imputes and normalises, in place, one step of one modality (Dm features): what `finish` does to each
  /// step it keeps, before aligning copies it. `mean` and `std` hold the modality's features.
  @inline(__always)
  static func finishStep(
    _ v: UnsafeMutablePointer<Float>, _ o: LoadOptions, _ mean: UnsafePointer<Float>, _ std: UnsafePointer<Float>,
    _ Dm: Int, _ bad: (Int, Float) -> MMError
  ) throws {
    if !allFinite(v, Dm) {
      for j in 0..<Dm where !v[j].isFinite {
        switch o.missing {
        case .error: throw bad(j, v[j])
        case .zero: v[j] = 0
        case .mean: v[j] = mean[j]
        }
      }
    }
    if o.normalize == .zscore { for j in 0..<Dm { v[j] = (v[j] - mean[j]) / std[j] } }
  }

  /// `accumulate` for L steps known to be finite: the same sums in the same order, without the selects, four
  /// steps per load and store of the sums; each count grows by L (whole numbers, exact in float64).
  @inline(__always)
  static func accumulateFinite(_ src: UnsafePointer<Float>, _ L: Int, _ Dm: Int, _ acc: UnsafeMutablePointer<Double>) {
    let sum = acc, squares = acc + Dm, count = acc + 2 * Dm
    var s = 0
    while s + 4 <= L {
      let v0 = src + s * Dm, v1 = v0 + Dm, v2 = v1 + Dm, v3 = v2 + Dm
      for j in 0..<Dm {
        let a = Double(v0[j]), b = Double(v1[j]), c = Double(v2[j]), d = Double(v3[j])
        sum[j] = sum[j] + a + b + c + d  // left to right: step after step, as one at a time
        squares[j] = squares[j] + a * a + b * b + c * c + d * d
      }
      s += 4
    }
    while s < L {
      let v = src + s * Dm
      for j in 0..<Dm {
        let d = Double(v[j])
        sum[j] += d
        squares[j] += d * d
      }
      s += 1
    }
    for j in 0..<Dm { count[j] += Double(L) }
  }
}
