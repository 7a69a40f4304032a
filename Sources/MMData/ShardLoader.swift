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
  public static func load(file: HDF5File, schema: DataSchema, options o: LoadOptions, comm: Communicator) throws -> Shard {
    let rows = Sharding.rows(rank: comm.rank, world: comm.size, count: schema.count)
    let path = file.path
    let (targets, width, classes) = try readLabels(file, schema, o, rows, comm)
    let lengths: [[Int]] = try comm.agree {
      try o.modalities.map { m in
        guard let ds = schema.lengthsDataset(for: m.name) else { return [Int](repeating: m.steps, count: rows.count) }
        let ls = try file.readInt64s(ds, rows: rows)
        for (i, l) in ls.enumerated() where l < 0 || l > Int64(m.steps) {
          throw MMError("\(path): \(ds)[\(rows.lowerBound + i)] = \(l) is outside 0...\(m.steps) (the steps of /modalities/\(m.name))")
        }
        let S = o.steps[o.modalities.firstIndex(of: m)!]
        if o.align == .pad, let i = ls.firstIndex(where: { $0 > Int64(S) }) {
          throw MMError("\(path): sample \(rows.lowerBound + i) has \(ls[i]) steps of '\(m.name)', more than data.steps = \(S) (data.align: pad never cuts; use truncate or interpolate, or raise data.steps)")
        }
        return ls.map(Int.init)
      }
    }
    let stats = try o.statistics ?? computeStatistics(file, o, rows, lengths, comm)

    // Features: impute, normalise, align, fuse.
    let S = o.maxSteps, D = o.features, M = o.modalities.count
    let x = Buffer(count: rows.count * S * D, prefault: true)  // written whole below
    var modelLengths = [Int32](repeating: 1, count: rows.count)
    var modalityLengths = [Int32](repeating: 0, count: rows.count * M)
    var columns: [Range<Int>] = []
    var column = 0
    for (mi, m) in o.modalities.enumerated() {
      let T = m.steps, Dm = m.features, ds = m.dataset
      let mean = Array(stats.mean[column..<(column + Dm)]), std = Array(stats.std[column..<(column + Dm)])
      let zscore = o.normalize == .zscore
      try comm.agree {
        try ChunkedRows.forEach(file, ds, rows: rows, rowSize: T * Dm) { start, n, raw in
          for r in 0..<n {
            let i = start + r, L = lengths[mi][i]
            let src = raw + r * T * Dm
            if !allFinite(src, L * Dm) {  // rare: the element-wise path that imputes or names the value
              for s in 0..<L {
                let v = src + s * Dm
                for j in 0..<Dm where !v[j].isFinite {
                  switch o.missing {
                  case .error:
                    throw MMError("\(path): \(ds) has \(v[j]) at sample \(rows.lowerBound + i), step \(s), feature \(j) (set data.missing: zero or mean to impute)")
                  case .zero: v[j] = 0
                  case .mean: v[j] = mean[j]
                  }
                }
              }
            }
            if zscore {
              for s in 0..<L {
                let v = src + s * Dm
                for j in 0..<Dm { v[j] = (v[j] - mean[j]) / std[j] }
              }
            }
            let aligned = Resample.align(
              o.align, src: src, validSteps: L, features: Dm, dst: x.pointer + i * S * D + column, steps: o.steps[mi], dstStride: D)
            modelLengths[i] = max(modelLengths[i], Int32(aligned))
            modalityLengths[i * M + mi] = Int32(aligned)
          }
        }
      }
      columns.append(column..<(column + Dm))
      column += Dm
    }
    return Shard(rows: rows, steps: S, features: D, columns: columns, modalitySteps: o.steps, x: x, lengths: modelLengths,
                 modalityLengths: modalityLengths, targets: targets, targetWidth: width, classes: classes, statistics: stats)
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

  /// Labels of the owned rows as Float; classes for classification (configured or global max + 1).
  static func readLabels(_ file: HDF5File, _ schema: DataSchema, _ o: LoadOptions, _ rows: Range<Int>, _ comm: Communicator)
    throws -> ([Float], Int, Int)
  {
    let path = file.path
    if !schema.hasLabels {  // mmtrain predict: no targets; the output count comes from the checkpoint's config
      let width = o.task == .regression ? (o.classes ?? 1) : 1
      return ([Float](repeating: 0, count: rows.count * width), width, o.task == .binary ? 2 : (o.classes ?? 2))
    }
    if o.task == .regression {
      let values = try comm.agree { () -> [Double] in
        let v = try file.readDoubles("/labels", rows: rows)
        if let i = v.firstIndex(where: { !$0.isFinite }) {
          throw MMError("\(path): /labels has \(v[i]) at sample \(rows.lowerBound + i / schema.labelWidth) (regression targets must be finite)")
        }
        return v
      }
      return (values.map(Float.init), schema.labelWidth, schema.labelWidth)
    }
    let ids = try comm.agree { () -> [Int64] in
      guard schema.labelsAreIntegers, schema.labelShape.count == 1 else {
        let fix = LabelHints.classificationFix(schema, (try? file.readDoubles("/labels", rows: rows)) ?? [])
        throw MMError("\(path): /labels is \(schema.labelDType) \(schema.labelShape); task.kind \(o.task.rawValue) needs integer class ids [N] \(fix)")
      }
      let v = try file.readInt64s("/labels", rows: rows)
      if let i = v.firstIndex(where: { $0 < 0 }) {
        throw MMError("\(path): /labels[\(rows.lowerBound + i)] = \(v[i]) is negative (class ids are 0..C-1)")
      }
      return v
    }
    let classes: Int
    switch (o.task, o.classes) {
    case (.binary, _): classes = 2
    case (_, let c?): classes = c
    default: classes = max(2, comm.allreduceMax(Int(ids.max() ?? 0)) + 1)
    }
    try comm.agree {
      if let i = ids.firstIndex(where: { $0 >= Int64(classes) }) {
        let key = o.task == .binary ? "task.kind binary (labels must be 0 or 1)" : "task.classes = \(classes) (labels must be 0..\(classes - 1))"
        throw MMError("\(path): /labels[\(rows.lowerBound + i)] = \(ids[i]) is out of range for \(key)")
      }
    }
    return (ids.map(Float.init), 1, classes)
  }

  /// Per-feature mean and std over valid, finite steps of the training rows of every rank.
  static func computeStatistics(_ file: HDF5File, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]], _ comm: Communicator)
    throws -> FeatureStatistics
  {
    guard o.normalize == .zscore || o.missing == .mean else { return .identity(o.features) }
    var mean: [Float] = [], std: [Float] = []
    for (mi, m) in o.modalities.enumerated() {
      let T = m.steps, Dm = m.features
      var acc = [Double](repeating: 0, count: 3 * Dm)  // sum, sum of squares, count
      try comm.agree {
        try ChunkedRows.forEach(file, m.dataset, rows: rows, rowSize: T * Dm) { start, n, raw in
          for r in 0..<n where !o.validationMask[rows.lowerBound + start + r] {
            let src = raw + r * T * Dm
            for s in 0..<lengths[mi][start + r] {
              for j in 0..<Dm {
                let v = src[s * Dm + j]
                if v.isFinite {
                  let d = Double(v)
                  acc[j] += d; acc[Dm + j] += d * d; acc[2 * Dm + j] += 1
                }
              }
            }
          }
        }
      }
      comm.allreduceSum(&acc)
      for j in 0..<Dm {
        let c = acc[2 * Dm + j]
        let mu = c > 0 ? acc[j] / c : 0
        let variance = c > 0 ? max(acc[Dm + j] / c - mu * mu, 0) : 1
        let sd = variance.squareRoot()
        mean.append(Float(mu))
        std.append(o.normalize == .zscore && sd > 1e-6 ? Float(sd) : 1)
      }
    }
    return FeatureStatistics(mean: mean, std: std)
  }
}
