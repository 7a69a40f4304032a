import MMCore
import MMDistributed
import MMHDF5

extension ShardLoader {
  /// Labels of the owned rows as Float; classes for classification (configured or global max + 1).
  static func readLabels(
    _ file: HDF5File, _ schema: DataSchema, _ o: LoadOptions, _ rows: Range<Int>, _ comm: Communicator
  )
    throws -> ([Float], Int, Int)
  {
    let path = file.path
    if !schema.hasLabels {  // mmtrain predict: no targets; the output count comes from the checkpoint's config
      let width = o.task == .regression ? (o.classes ?? 1) : 1
      return ([Float](repeating: 0, count: rows.count * width), width, o.task == .binary ? 2 : (o.classes ?? 2))
    }
    if schema.labelShape.count == 3 {
      throw MMError(
        "\(path): /labels is \(schema.labelDType) \(schema.labelShape): per-step targets [N, T, K] need task.target: step"
      )
    }
    if o.task == .regression {
      let values = try comm.agree { () -> [Double] in
        let v = try file.readDoubles("/labels", rows: rows)
        if let i = v.firstIndex(where: { !$0.isFinite }) {
          throw MMError(
            "\(path): /labels has \(v[i]) at sample \(rows.lowerBound + i / schema.labelWidth) (regression targets must be finite)"
          )
        }
        return v
      }
      return (values.map(Float.init), schema.labelWidth, schema.labelWidth)
    }
    let ids = try comm.agree { () -> [Int64] in
      guard schema.labelsAreIntegers, schema.labelShape.count == 1 else {
        let fix = LabelHints.classificationFix(schema, (try? file.readDoubles("/labels", rows: rows)) ?? [])
        throw MMError(
          "\(path): /labels is \(schema.labelDType) \(schema.labelShape); task.kind \(o.task.rawValue) needs integer class ids [N] \(fix)"
        )
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
        let key =
          o.task == .binary
          ? "task.kind binary (labels must be 0 or 1)" : "task.classes = \(classes) (labels must be 0..\(classes - 1))"
        throw MMError("\(path): /labels[\(rows.lowerBound + i)] = \(ids[i]) is out of range for \(key)")
      }
    }
    return (ids.map(Float.init), 1, classes)
  }
}
