import Foundation
import MMCore
import MMDistributed
import MMHDF5
import MMTensor

/// Loads the rows a rank owns (hyperslab reads in chunks: memory grows with N / world, not N), checks them,
/// and turns them into a `Shard`. Collective: every rank calls it; a bad row is reported by the rank that
/// owns it, with its rank number, and every rank then fails together.
///
///  1. labels: class ids in range (classes inferred as global max + 1 when not configured), or finite targets
///  2. lengths: 0 <= L <= T per modality
///  3. statistics: per-feature mean/std over valid, finite steps of training rows (all-reduced)
///  4. features: NaN/Inf handled by `data.missing`, z-scored, aligned to S steps, fused in model order
public enum ShardLoader {
  public static func load(file: HDF5File, schema: DataSchema, options o: LoadOptions, comm: Communicator) throws
    -> Shard
  {
    let shard = try loadRows(file: file, schema: schema, options: o, comm: comm)
    if o.target == .step { shard.targetSteps = o.maxSteps }
    return shard
  }

  static func loadRows(file: HDF5File, schema: DataSchema, options o: LoadOptions, comm: Communicator) throws
    -> Shard
  {
    let rows = Sharding.rows(rank: comm.rank, world: comm.size, count: schema.count)
    let path = file.path
    let sampleLabels = o.target == .step ? nil : try readLabels(file, schema, o, rows, comm)
    let lengths: [[Int]] = try comm.agree {
      try o.modalities.map { m in
        guard let ds = schema.lengthsDataset(for: m.name) else { return [Int](repeating: m.steps, count: rows.count) }
        let ls = try file.readInt64s(ds, rows: rows)
        for (i, l) in ls.enumerated() where l < 0 || l > Int64(m.steps) {
          throw MMError(
            "\(path): \(ds)[\(rows.lowerBound + i)] = \(l) is outside 0...\(m.steps) (the steps of /modalities/\(m.name))"
          )
        }
        let S = o.steps[o.modalities.firstIndex(of: m)!]
        if o.align == .pad, let i = ls.firstIndex(where: { $0 > Int64(S) }) {
          throw MMError(
            "\(path): sample \(rows.lowerBound + i) has \(ls[i]) steps of '\(m.name)', more than data.steps = \(S) (data.align: pad never cuts; use truncate or interpolate, or raise data.steps)"
          )
        }
        return ls.map(Int.init)
      }
    }
    let (targets, width, classes) = try sampleLabels ?? StepLabels.read(file, schema, o, rows, lengths, comm)
    if let stream = o.stream {
      return try loadStreamed(file, o, rows, lengths, (targets, width, classes), stream, comm)
    }
    if o.mmap, let mapped = try mapRows(file, o, rows, lengths, comm) {  // read in place (ShardLoader+Mapped.swift)
      return try loadMapped(mapped, file, o, rows, lengths, (targets, width, classes), comm)
    }
    if o.align != .interpolate {  // aligning is a copy: whole fused rows, written once (ShardLoader+Rows.swift)
      let f = try loadCopied(file, o, rows, lengths, comm)
      return Shard(
        rows: rows, steps: o.maxSteps, features: o.features, columns: o.columns, modalitySteps: o.steps, x: f.x,
        lengths: f.lengths, modalityLengths: f.modalityLengths, targets: targets, targetWidth: width,
        classes: classes, statistics: f.statistics,
        pending: f.pending ? PendingFinish(o, statistics: f.statistics) : nil)
    }

    // Interpolated features: impute, normalise, align, fuse. Statistics that must be computed are summed in the same read
    // as the features (the block is in cache): each modality's raw steps are staged in the shard buffer, then
    // finished in place once the all-reduced statistics are known.
    let S = o.maxSteps, D = o.features, M = o.modalities.count, layout = o.layout
    let x = Buffer(count: rows.count * layout.floats, prefault: true)  // written whole below
    var modelLengths = [Int32](repeating: 1, count: rows.count)
    var modalityLengths = [Int32](repeating: 0, count: rows.count * M)
    let columns = o.columns
    var mean: [Float] = [], std: [Float] = []
    let computed = o.statistics == nil && (o.normalize == .zscore || o.missing == .mean)
    for (mi, m) in o.modalities.enumerated() {
      let T = m.steps, Dm = m.features, ds = m.dataset
      let output = Output(
        x: x, offset: layout.offsets[mi], steps: o.steps[mi], rowFloats: layout.floats, stride: layout.strides[mi])
      /// Imputes, normalises and aligns local row i (raw steps at `src`, L of them valid) into the shard.
      func finish(_ i: Int, _ src: UnsafeMutablePointer<Float>, _ L: Int, _ mean: [Float], _ std: [Float]) throws {
        let aligned = try Self.finish(
          src, L, Dm, o, mean, std, dst: output.row(i), steps: output.steps, stride: output.stride
        ) {
          s, j, v in
          nonFinite(path, ds, sample: rows.lowerBound + i, step: s, feature: j, v)
        }
        modelLengths[i] = max(modelLengths[i], Int32(aligned))
        modalityLengths[i * M + mi] = Int32(aligned)
      }
      if !computed {
        let stats = o.statistics ?? .identity(o.features)
        let mu = Array(stats.mean[columns[mi]]), sd = Array(stats.std[columns[mi]])
        try comm.agree {
          try ChunkedRows.forEach(file, ds, rows: rows, rowSize: T * Dm) { start, n, raw in
            for r in 0..<n { try finish(start + r, raw + r * T * Dm, lengths[mi][start + r], mu, sd) }
          }
        }
      } else {
        // Staged: the steps alignment keeps (all L when interpolating, at most `room` otherwise) fit the
        // modality's place in the row (S steps in the fused layout, S_m in its own block). Interpolating a
        // modality longer than that needs every step: it is read again instead.
        let room = layout.interleaved ? S : o.steps[mi]
        let staged = o.align != .interpolate || T <= room
        var acc = try comm.agree {
          try scan(file, m, o, rows, lengths: lengths[mi], sums: true) { i, src, L in
            if staged { output.stage(i, src, min(L, room), Dm) }
          }
        }
        comm.allreduceSum(&acc)
        let (mu, sd) = finalize(acc, Dm, o.normalize, channels: m.imageShape?.first, tokens: m.kind == .tokens)
        mean += mu; std += sd
        try comm.agree {
          if staged {
            let row = Buffer(count: room * Dm)
            try mu.withUnsafeBufferPointer { mean in
              try sd.withUnsafeBufferPointer { std in
                for i in 0..<rows.count {
                  let L = min(lengths[mi][i], room)
                  if o.align == .interpolate && L != output.steps && L > 0 {  // resampled: through a contiguous copy
                    output.unstage(i, row.pointer, L, Dm)
                    try finish(i, row.pointer, L, mu, sd)
                    continue
                  }
                  // Aligning is a copy of the first n steps (what Resample.align does here): finish them where they lie.
                  let n = min(L, output.steps), dst = output.row(i)
                  for s in 0..<n {
                    let v = dst + s * output.stride
                    try impute(v, 1, Dm, o.missing, mu) { _, j, value in
                      nonFinite(path, ds, sample: rows.lowerBound + i, step: s, feature: j, value)
                    }
                    if o.normalize == .zscore { for j in 0..<Dm { v[j] = (v[j] - mean[j]) / std[j] } }
                  }
                  // staged, cut by alignment
                  for s in n..<L { (dst + s * output.stride).update(repeating: 0, count: Dm) }
                  modelLengths[i] = max(modelLengths[i], Int32(n))
                  modalityLengths[i * M + mi] = Int32(n)
                }
              }
            }
          } else {
            try ChunkedRows.forEach(file, ds, rows: rows, rowSize: T * Dm) { start, n, raw in
              for r in 0..<n { try finish(start + r, raw + r * T * Dm, lengths[mi][start + r], mu, sd) }
            }
          }
        }
      }
    }
    let stats = o.statistics ?? (computed ? FeatureStatistics(mean: mean, std: std) : .identity(D))
    return Shard(
      rows: rows, steps: S, features: D, columns: columns, modalitySteps: o.steps, x: x, lengths: modelLengths,
      modalityLengths: modalityLengths, targets: targets, targetWidth: width, classes: classes, statistics: stats)
  }

  /// `data.stream`: one read of the rows for the statistics and the checks the in-memory load makes, keeping
  /// nothing; the rows are prepared again from the file as training asks for them (`ShardStream`).
  static func loadStreamed(
    _ file: HDF5File, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]], _ labels: ([Float], Int, Int),
    _ stream: StreamOptions, _ comm: Communicator
  ) throws -> Shard {
    let path = file.path, columns = o.columns, offsets = columns.map { 3 * $0.lowerBound }
    let computed = o.statistics == nil && (o.normalize == .zscore || o.missing == .mean)
    var acc = [Double](repeating: 0, count: 3 * o.features)  // modality mi's sums at acc[offsets[mi]...]
    for (mi, m) in o.modalities.enumerated() {
      let sums = try comm.agree { try scan(file, m, o, rows, lengths: lengths[mi], sums: computed) }
      acc.replaceSubrange(offsets[mi]..<(offsets[mi] + sums.count), with: sums)
    }
    let stats = computed ? allReduced(acc, offsets: offsets, o, comm) : o.statistics ?? .identity(o.features)
    let (modalityLengths, modelLengths) = alignedLengths(lengths, o)
    let assembler = RowAssembler(path: path, options: o, rows: rows, lengths: lengths, statistics: stats)
    let source = try comm.agree {
      try ShardStream(path: path, assembler: assembler, rowCount: rows.count, options: stream)
    }
    return Shard(
      rows: rows, steps: o.maxSteps, features: o.features, columns: columns, modalitySteps: o.steps,
      x: Buffer(count: 0),
      lengths: modelLengths, modalityLengths: modalityLengths, targets: labels.0, targetWidth: labels.1,
      classes: labels.2,
      statistics: stats, stream: source)
  }

  /// Imputes (`data.missing`), normalises (`data.normalize`) and aligns (`data.align`) one modality of one row:
  /// L valid steps of Dm features at `src`, changed in place, aligned into `dst` (`steps` steps, `stride` apart).
  /// Returns the aligned length. The one definition of a row's preparation, in memory and streamed.
  @discardableResult
  static func finish(
    _ src: UnsafeMutablePointer<Float>, _ L: Int, _ Dm: Int, _ o: LoadOptions, _ mean: [Float], _ std: [Float],
    dst: UnsafeMutablePointer<Float>, steps: Int, stride: Int, _ bad: (Int, Int, Float) -> MMError
  ) throws -> Int {
    try impute(src, L, Dm, o.missing, mean, bad)
    if o.normalize == .zscore { zscore(src, L * Dm, mean, std) }
    return Resample.align(o.align, src: src, validSteps: L, features: Dm, dst: dst, steps: steps, dstStride: stride)
  }

  /// One modality's place in the shard's rows (RowLayout): local row i, step s starts at
  /// x + i * rowFloats + offset + s * stride.
  struct Output {
    let x: Buffer
    let offset: Int  // the modality's step 0 in a row
    let steps: Int  // S_m: the modality's steps after alignment
    let rowFloats: Int  // floats per row
    let stride: Int  // floats from one of its steps to the next

    @inline(__always) func row(_ i: Int) -> UnsafeMutablePointer<Float> { x.pointer + i * rowFloats + offset }

    /// Raw steps 0..<n of row i (Dm features each, contiguous at src) into the row's columns.
    func stage(_ i: Int, _ src: UnsafePointer<Float>, _ n: Int, _ Dm: Int) {
      let dst = row(i)
      for s in 0..<n { (dst + s * stride).update(from: src + s * Dm, count: Dm) }
    }

    /// The staged steps 0..<n of row i back out, contiguous at dst; zero where they were (alignment writes
    /// the modality's S_m steps, and steps past S_m must read 0, as in a row never staged).
    func unstage(_ i: Int, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ Dm: Int) {
      let src = row(i)
      for s in 0..<n {
        (dst + s * Dm).update(from: src + s * stride, count: Dm)
        (src + s * stride).update(repeating: 0, count: Dm)
      }
    }
  }

  /// Replaces the non-finite values of L steps (`data.missing`: zero, or the training mean), or throws
  /// `bad(step, feature, value)` for the first one under `error`. Finite rows take one vectorised check.
  @inline(__always)
  /// The one line a NaN or Inf in a valid step gets under `data.missing: error`.
  static func nonFinite(_ path: String, _ ds: String, sample: Int, step: Int, feature: Int, _ v: Float) -> MMError {
    MMError(
      "\(path): \(ds) has \(v) at sample \(sample), step \(step), feature \(feature) (set data.missing: zero or mean to impute)"
    )
  }

  static func impute(
    _ src: UnsafeMutablePointer<Float>, _ L: Int, _ Dm: Int, _ missing: MissingPolicy, _ mean: [Float],
    _ bad: (Int, Int, Float) -> MMError
  ) throws {
    guard !allFinite(src, L * Dm) else { return }
    for s in 0..<L {
      let v = src + s * Dm
      for j in 0..<Dm where !v[j].isFinite {
        switch missing {
        case .error: throw bad(s, j, v[j])
        case .zero: v[j] = 0
        case .mean: v[j] = mean[j]
        }
      }
    }
  }

  /// x = (x - mean) / std per feature, over n values of rows of mean.count features.
  @inline(__always)
  static func zscore(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ mean: [Float], _ std: [Float]) {
    let Dm = mean.count
    mean.withUnsafeBufferPointer { mean in
      std.withUnsafeBufferPointer { std in
        var k = 0
        while k < n {
          let v = x + k
          for j in 0..<Dm { v[j] = (v[j] - mean[j]) / std[j] }
          k += Dm
        }
      }
    }
  }

  /// Adds L steps of Dm features to the float64 sums (sum, sum of squares, count: acc[0..<3Dm]) of the finite
  /// values, in step order for each feature. A non-finite value adds +0.0, which leaves every sum as it was
  /// (the sums start at +0.0 and never become -0.0), so the loop has no branch and vectorises over features.
  @inline(__always)
  static func accumulate(_ src: UnsafePointer<Float>, _ L: Int, _ Dm: Int, _ acc: UnsafeMutablePointer<Double>) {
    let sum = acc, squares = acc + Dm, count = acc + 2 * Dm
    for s in 0..<L {
      let v = src + s * Dm
      for j in 0..<Dm {
        let finite = v[j].isFinite
        let d = finite ? Double(v[j]) : 0
        sum[j] += d
        squares[j] += d * d
        count[j] += finite ? 1 : 0
      }
    }
  }

  /// One read of modality `m`'s owned rows: the first non-finite value stops the load with its line
  /// (`missing: error`; in the order finishing meets it), the training rows' valid steps are summed (sum, sum
  /// of squares, count per feature; when `sums`), and each row is handed to `each` (local row, its raw steps,
  /// its valid length). Returns the sums (3·D).
  static func scan(
    _ file: HDF5File, _ m: DataSchema.Modality, _ o: LoadOptions, _ rows: Range<Int>, lengths: [Int], sums: Bool,
    each: (Int, UnsafeMutablePointer<Float>, Int) throws -> Void = { _, _, _ in }
  ) throws -> [Double] {
    let T = m.steps, Dm = m.features, path = file.path
    var acc = [Double](repeating: 0, count: 3 * Dm)
    try acc.withUnsafeMutableBufferPointer { acc in
      try ChunkedRows.forEach(file, m.dataset, rows: rows, rowSize: T * Dm) { start, n, raw in
        for r in 0..<n {
          let i = start + r, L = lengths[i], src = raw + r * T * Dm, sample = rows.lowerBound + i
          try check(
            src, L, m, sample: sample, o, path, sums: sums && !o.validationMask[sample] ? acc.baseAddress! : nil)
          try each(i, src, L)
        }
      }
    }
    return acc
  }

  /// One modality of one row as a load meets it (L valid steps at `src`): under `missing: error` its first
  /// non-finite value, in step order, stops the load with the line naming `sample`; with `sums` its steps are
  /// added to the float64 sums (a finite row without per-value selects, the same bits). Never writes to `src`
  /// (under `.error` impute only throws), so it reads a read-only mapping too.
  @inline(__always)
  static func check(
    _ src: UnsafePointer<Float>, _ L: Int, _ m: DataSchema.Modality, sample: Int, _ o: LoadOptions, _ path: String,
    sums: UnsafeMutablePointer<Double>?
  ) throws {
    let Dm = m.features, finite = allFinite(src, L * Dm)
    if !finite && o.missing == .error {
      try impute(UnsafeMutablePointer(mutating: src), L, Dm, .error, []) { s, j, v in
        nonFinite(path, m.dataset, sample: sample, step: s, feature: j, v)
      }
    }
    guard let sums else { return }
    if finite { accumulateFinite(src, L, Dm, sums) } else { accumulate(src, L, Dm, sums) }
  }

  /// The valid steps alignment leaves of L on a modality's S_m (Resample.align): none of none, all S_m
  /// interpolated, else min(L, S_m).
  @inline(__always)
  static func alignedLength(_ L: Int, steps Sm: Int, _ align: Align) -> Int {
    L == 0 ? 0 : (align == .interpolate ? Sm : min(L, Sm))
  }

  /// Every local row's aligned lengths, known before a value is read: per modality (n, M), and fused (n), the
  /// longest modality's, at least 1.
  static func alignedLengths(_ lengths: [[Int]], _ o: LoadOptions) -> (modality: [Int32], model: [Int32]) {
    let M = o.modalities.count, n = lengths.first?.count ?? 0
    var modality = [Int32](repeating: 0, count: n * M), model = [Int32](repeating: 1, count: n)
    for i in 0..<n {
      for mi in 0..<M {
        modality[i * M + mi] = Int32(alignedLength(lengths[mi][i], steps: o.steps[mi], o.align))
        model[i] = max(model[i], modality[i * M + mi])
      }
    }
    return (modality, model)
  }

  /// Mean and std per feature from all-reduced sums (a feature with no finite value: mean 0, std 1; a
  /// constant one, std <= 1e-6: std 1; `normalize: none`: std 1, the mean only imputes). An image's features
  /// (`channels` non-nil: C·H·W, channel-major) share their channel's statistics, over all its pixels. Token ids
  /// (`tokens`) are indices, never normalised: mean 0, std 1.
  static func finalize(_ acc: [Double], _ Dm: Int, _ normalize: Normalize, channels: Int? = nil, tokens: Bool = false)
    -> ([Float], [Float])
  {
    if tokens { return ([Float](repeating: 0, count: Dm), [Float](repeating: 1, count: Dm)) }
    var acc = acc
    if let C = channels, C > 0, Dm % C == 0 {  // per channel: pool the sums over the channel's pixels
      let P = Dm / C
      for part in 0..<3 {
        for c in 0..<C {
          let range = (part * Dm + c * P)..<(part * Dm + (c + 1) * P)
          let total = acc[range].reduce(0, +)
          for j in range { acc[j] = total }
        }
      }
    }
    var mean: [Float] = [], std: [Float] = []
    for j in 0..<Dm {
      let c = acc[2 * Dm + j]
      let mu = c > 0 ? acc[j] / c : 0
      let variance = c > 0 ? max(acc[Dm + j] / c - mu * mu, 0) : 1
      let sd = variance.squareRoot()
      mean.append(Float(mu))
      std.append(normalize == .zscore && sd > 1e-6 ? Float(sd) : 1)
    }
    return (mean, std)
  }

  /// True when none of x[0..<n] is NaN or ±Inf (exponent bits all ones); one vectorised max over the bits.
  @inline(__always)
  static func allFinite(_ x: UnsafePointer<Float>, _ n: Int) -> Bool {
    x.withMemoryRebound(to: UInt32.self, capacity: n) { bits in
      var top: UInt32 = 0
      for k in 0..<n { top = max(top, bits[k] & 0x7f80_0000) }
      return top < 0x7f80_0000
    }
  }
}
