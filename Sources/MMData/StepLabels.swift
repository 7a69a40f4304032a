import MMCore
import MMDistributed
import MMHDF5

/// Labels for `task.target: step`: /labels [N, T] (class ids; floats for a one-output regression) or
/// [N, T, K] (K regression outputs), one per time step of the modalities' shared time axis.
///
/// They are aligned as the features are (`data.align` pad or truncate: the first S steps are kept, never
/// resampled) into (n, S, K) floats per rank, sample-major. A sample's labels count at its valid steps only,
/// t < L = its fused length (the longest modality's, at most S); the others are 0 in the shard and never read,
/// so padding in the file (-1, 0, NaN) is never checked.
enum StepLabels {
  /// The owned rows' labels, their width per sample (S·K) and the class count (classification: configured, or
  /// the largest id at a valid step of any rank + 1; regression: K). `lengths`: per modality (model order),
  /// each owned row's valid steps in the file. Collective.
  static func read(
    _ file: HDF5File, _ schema: DataSchema, _ o: LoadOptions, _ rows: Range<Int>, _ lengths: [[Int]],
    _ comm: Communicator
  ) throws -> ([Float], Int, Int) {
    let path = file.path, n = rows.count, S = o.maxSteps
    if !schema.hasLabels {  // mmtrain predict: no targets; the output count comes from the checkpoint's config
      let K = o.task == .regression ? (o.classes ?? 1) : 1
      return ([Float](repeating: 0, count: n * S * K), S * K, o.task == .binary ? 2 : (o.classes ?? 2))
    }
    let shape = schema.labelShape
    let K = shape.count == 3 ? shape[2] : 1
    // The valid steps of each owned row: the longest modality's, cut to S.
    let valid = (0..<n).map { i in min(S, o.modalities.indices.map { lengths[$0][i] }.max() ?? 0) }
    try comm.agree {
      let need = o.task == .regression ? "[N, T] or [N, T, K]" : "integer class ids [N, T]"
      guard shape.count == 2 || (shape.count == 3 && o.task == .regression) else {
        throw MMError(
          "\(path): /labels is \(schema.labelDType) \(shape); task.target: step needs \(need), one label per time step "
            + "(or use task.target: sample)")
      }
      if o.task != .regression && !schema.labelsAreIntegers {
        throw MMError(
          "\(path): /labels is \(schema.labelDType) \(shape); task.kind \(o.task.rawValue) with task.target: step needs "
            + "integer class ids [N, T]")
      }
      if let m = o.modalities.first(where: { $0.steps != shape[1] }) {
        throw MMError(
          "\(path): /labels has \(shape[1]) steps per sample, but /modalities/\(m.name) has \(m.steps); per-step labels "
            + "need one label per step of the modalities (the same T)")
      }
    }
    let T = shape[1]
    var targets = [Float](repeating: 0, count: n * S * K)
    if o.task == .regression {
      let v = try comm.agree { try file.readDoubles("/labels", rows: rows) }
      try comm.agree {
        for i in 0..<n {
          for t in 0..<valid[i] {
            for k in 0..<K {
              let y = v[(i * T + t) * K + k]
              guard y.isFinite else {
                throw MMError(
                  "\(path): /labels has \(y) at sample \(rows.lowerBound + i), step \(t) (regression targets must be finite at every valid step)"
                )
              }
              targets[(i * S + t) * K + k] = Float(y)
            }
          }
        }
      }
      return (targets, S * K, K)
    }
    let ids = try comm.agree { try file.readInt64s("/labels", rows: rows) }
    var largest: Int64 = 0
    try comm.agree {
      for i in 0..<n {
        for t in 0..<valid[i] {
          let y = ids[i * T + t]
          if y < 0 {
            throw MMError(
              "\(path): /labels[\(rows.lowerBound + i), \(t)] = \(y) is negative at a valid step (class ids are 0..C-1; "
                + "padding past /lengths is ignored)")
          }
          largest = max(largest, y)
        }
      }
    }
    let classes: Int
    switch (o.task, o.classes) {
    case (.binary, _): classes = 2
    case (_, let c?): classes = c
    default: classes = max(2, comm.allreduceMax(Int(largest)) + 1)
    }
    try comm.agree {
      for i in 0..<n {
        for t in 0..<valid[i] {
          let y = ids[i * T + t]
          if y >= Int64(classes) {
            let key =
              o.task == .binary
              ? "task.kind binary (labels must be 0 or 1)"
              : "task.classes = \(classes) (labels must be 0..\(classes - 1))"
            throw MMError("\(path): /labels[\(rows.lowerBound + i), \(t)] = \(y) is out of range for \(key)")
          }
          targets[i * S + t] = Float(y)
        }
      }
    }
    return (targets, S, classes)
  }

  /// Each sample's most frequent label over its valid steps (ties: the smaller id), for stratified splits and
  /// folds of a per-step target. `validSteps`: per sample, its longest modality's valid steps in the file.
  static func strata(ids: [Int64], steps T: Int, validSteps: [Int]) -> [Int] {
    validSteps.indices.map { i in
      var counts: [Int64: Int] = [:]
      for t in 0..<min(max(validSteps[i], 1), T) { counts[ids[i * T + t], default: 0] += 1 }
      return Int(counts.max { a, b in a.value < b.value || (a.value == b.value && a.key > b.key) }!.key)
    }
  }
}

extension DataSchema {
  /// The class of each sample for stratified splits and folds: its /labels id, or with per-step labels the
  /// most frequent id over its valid steps (the longest of `modalities`' /lengths; ties: the smaller id).
  public func strata(_ file: HDF5File, target: TargetKind, modalities names: [String]) throws -> [Int] {
    let ids = try file.readInt64s("/labels")
    guard target == .step, labelShape.count == 2 else { return ids.map(Int.init) }
    let T = labelShape[1]
    var valid = [Int](repeating: 0, count: count)
    for name in names {
      guard let m = modality(name) else { continue }
      let lengths = try lengthsDataset(for: name).map { try file.readInt64s($0).map(Int.init) }
      for i in 0..<count { valid[i] = max(valid[i], lengths?[i] ?? m.steps) }
    }
    return StepLabels.strata(ids: ids, steps: T, validSteps: valid)
  }
}
