/// Labels written in a shape or type the task cannot use, and how to write them instead (numpy/h5py
/// spelling). `inspect` warns with these, and training names the fix in its error: one check, two callers.
enum LabelHints {
  /// How `values` (the labels' first rows, row-major, `width` per row) look, when they look like
  /// something other than what they are stored as.
  enum Look: Equatable {
    case column  // [N, 1]
    case oneHot  // [N, C] of 0/1 rows holding exactly one 1
    case wholeFloats  // float [N] holding whole numbers only
  }

  static func looks(_ schema: DataSchema, _ values: [Double]) -> [Look] {
    var found: [Look] = []
    let width = schema.labelWidth
    if schema.labelShape.count == 2 && width == 1 { found.append(.column) }
    if schema.labelShape.count == 2 && width >= 2 && !values.isEmpty && values.count % width == 0 {
      let rows = stride(from: 0, to: values.count, by: width).map { values[$0..<($0 + width)] }
      if rows.allSatisfy({ row in row.allSatisfy { $0 == 0 || $0 == 1 } && row.reduce(0, +) == 1 }) {
        found.append(.oneHot)
      }
    }
    if !schema.labelsAreIntegers && width == 1 && !values.isEmpty
      && values.allSatisfy({ $0.isFinite && $0 == $0.rounded() })
    {
      found.append(.wholeFloats)
    }
    return found
  }

  static func fix(_ look: Look) -> String {
    switch look {
    case .column: return "/labels is [N, 1]: store it as [N] (labels.squeeze(1))"
    case .oneHot: return "/labels looks one-hot [N, C]: store the class ids [N] (labels.argmax(axis=1))"
    case .wholeFloats:
      return "/labels holds whole numbers as floats: store class ids as integers (labels.astype(\"int64\"))"
    }
  }

  /// For `mmtrain inspect`, whatever the task: labels a classification run would refuse, and why.
  static func warnings(_ schema: DataSchema, _ values: [Double]) -> [String] {
    looks(schema, values).map { fix($0) + "; as they are, only task.kind: regression can use them" }
  }

  /// The end of a training error for labels a classification task cannot use.
  static func classificationFix(_ schema: DataSchema, _ values: [Double]) -> String {
    var fixes = looks(schema, values).map(fix)
    if schema.labelsAreIntegers && schema.labelShape.count == 2 && schema.labelWidth > 1 {
      fixes.append("one class id per time step [N, T] needs task.target: step")
    }
    return fixes.isEmpty
      ? "(or set task.kind: regression)" : "(" + fixes.joined(separator: "; ") + "; or set task.kind: regression)"
  }
}
