import MMCore
import MMTensor

/// k-fold assignment with scikit-learn's semantics (KFold, StratifiedKFold, GroupKFold,
/// StratifiedGroupKFold). Where sklearn's result does not depend on its RNG (every strategy with
/// `shuffle: false`) the folds are identical to sklearn's (tested against scikit-learn 1.9.1 fixtures);
/// with `shuffle: true` the same algorithms run on mmtrain's seeded generator, so the properties hold
/// (sizes, class shares, disjoint groups) but the indices differ from sklearn's numpy RNG.
///
/// The assignment is a pure function of (spec, labels, groups): rank 0 computes it, and it never depends
/// on the world size.

public enum FoldStrategy: String, Codable, CaseIterable, Sendable {
  case kfold
  case stratified
  case group
  case stratifiedGroup = "stratified_group"

  public var needsGroups: Bool { self == .group || self == .stratifiedGroup }
  public var needsClasses: Bool { self == .stratified || self == .stratifiedGroup }
}

/// `cv.folds`, `cv.strategy`, `cv.shuffle`, `cv.seed`.
public struct FoldSpec: Codable, Equatable, Sendable {
  public var k: Int
  public var strategy: FoldStrategy
  public var shuffle: Bool
  public var seed: UInt64
  public init(k: Int, strategy: FoldStrategy, shuffle: Bool, seed: UInt64) {
    self.k = k
    self.strategy = strategy
    self.shuffle = shuffle
    self.seed = seed
  }
}

/// One fold: its test samples and the rest (both ascending sample indices into the data file).
public struct Fold: Codable, Equatable, Sendable {
  public var test: [Int]
  public var train: [Int]
  public init(test: [Int], train: [Int]) {
    self.test = test
    self.train = train
  }
}

/// The folds plus the warnings sklearn would raise (printed once by the caller).
public struct FoldPlan: Equatable, Sendable {
  public var folds: [Fold]
  public var warnings: [String]
}

public enum FoldAssigner {
  /// Assigns `n` samples to `spec.k` folds. `labels` (class ids) are needed by the stratified strategies,
  /// `groups` (the file's `/groups`) by the group strategies.
  public static func assign(_ spec: FoldSpec, n: Int, labels: [Int]? = nil, groups: [Int]? = nil) throws -> FoldPlan {
    let k = spec.k
    guard k >= 2 else { throw MMError("cv.folds must be at least 2, got \(k)", kind: .usage) }
    guard k <= n else {
      throw MMError("cv.folds = \(k) is more than the \(n) samples in the data; use cv.folds ≤ \(n)", kind: .usage)
    }
    if let labels { precondition(labels.count == n, "labels: \(labels.count) for \(n) samples") }
    if let groups { precondition(groups.count == n, "groups: \(groups.count) for \(n) samples") }
    if spec.strategy.needsGroups && groups == nil {
      throw MMError(
        "cv.strategy: \(spec.strategy.rawValue) needs the dataset /groups (an integer [N] subject or speaker id); "
          + "add it to the data file or use cv.strategy: \(spec.strategy == .group ? "kfold" : "stratified")")
    }
    if spec.strategy.needsClasses && labels == nil {
      throw MMError(
        "cv.strategy: \(spec.strategy.rawValue) needs class labels (task.kind binary or multiclass); "
          + "use cv.strategy: \(spec.strategy == .stratified ? "kfold" : "group") for regression", kind: .usage)
    }
    var warnings: [String] = []
    let foldOf: [Int]
    switch spec.strategy {
    case .kfold: foldOf = kFold(n: n, spec: spec)
    case .stratified: foldOf = try stratifiedKFold(labels!, spec: spec, warnings: &warnings)
    case .group: foldOf = try groupKFold(groups!, spec: spec)
    case .stratifiedGroup: foldOf = try stratifiedGroupKFold(labels!, groups!, spec: spec, warnings: &warnings)
    }
    var tests = [[Int]](repeating: [], count: k)
    for (i, f) in foldOf.enumerated() { tests[f].append(i) }
    let folds = tests.enumerated().map { f, test -> Fold in
      Fold(test: test, train: foldOf.indices.filter { foldOf[$0] != f })
    }
    if let empty = folds.firstIndex(where: { $0.test.isEmpty }) {
      throw MMError(
        "cv: fold \(empty) has no test samples (cv.strategy: \(spec.strategy.rawValue), cv.folds = \(k)); "
          + "use fewer folds", kind: .usage)
    }
    return FoldPlan(folds: folds, warnings: warnings)
  }

  // MARK: - KFold

  /// Consecutive blocks of `indices` (shuffled when asked); the first n mod k folds get one more sample.
  static func kFold(n: Int, spec: FoldSpec) -> [Int] {
    var order = Array(0..<n)
    if spec.shuffle {
      var rng = RNG(seed: spec.seed)  // seeded by cv.seed only: folds never depend on the world size
      rng.fisherYatesShuffle(&order)
    }
    var foldOf = [Int](repeating: 0, count: n)
    var start = 0
    for f in 0..<spec.k {
      let size = n / spec.k + (f < n % spec.k ? 1 : 0)
      for p in start..<(start + size) { foldOf[order[p]] = f }
      start += size
    }
    return foldOf
  }

  // MARK: - StratifiedKFold

  /// sklearn's round robin: classes encoded by order of first appearance, the sorted encoded labels dealt
  /// out to folds 0, 1, ..., k-1, 0, ...; each class's samples get their fold ids in blocks, in sample order
  /// (the block is shuffled when asked).
  static func stratifiedKFold(_ labels: [Int], spec: FoldSpec, warnings: inout [String]) throws -> [Int] {
    let k = spec.k
    var code: [Int: Int] = [:]
    let encoded = labels.map { y -> Int in
      if let c = code[y] { return c }
      code[y] = code.count
      return code.count - 1
    }
    let classes = code.count
    var counts = [Int](repeating: 0, count: classes)
    for c in encoded { counts[c] += 1 }
    try checkClassCounts(counts, labels: labels, encodedBy: code, k: k, warnings: &warnings)
    // allocation[f][c]: members of class c dealt to fold f from the sorted encoded labels.
    var allocation = [[Int]](repeating: [Int](repeating: 0, count: classes), count: k)
    var position = 0
    for c in 0..<classes {
      for _ in 0..<counts[c] {
        allocation[position % k][c] += 1
        position += 1
      }
    }
    var rng = RNG(seed: spec.seed)  // seeded by cv.seed only: folds never depend on the world size
    var foldsForClass = [[Int]](repeating: [], count: classes)
    for c in 0..<classes {
      for f in 0..<k { foldsForClass[c] += [Int](repeating: f, count: allocation[f][c]) }
      if spec.shuffle { rng.fisherYatesShuffle(&foldsForClass[c]) }
    }
    var next = [Int](repeating: 0, count: classes)
    return encoded.map { c in
      defer { next[c] += 1 }
      return foldsForClass[c][next[c]]
    }
  }

  /// sklearn: an error when every class has fewer than k members, a warning when the smallest has.
  private static func checkClassCounts(
    _ counts: [Int], labels: [Int], encodedBy code: [Int: Int], k: Int, warnings: inout [String]
  ) throws {
    guard let smallest = counts.min() else { return }
    let label = { (c: Int) in code.first { $0.value == c }!.key }
    if counts.allSatisfy({ $0 < k }) {
      throw MMError(
        "cv.folds = \(k) is more than the members of every class (largest: \(counts.max()!)); "
          + "use cv.folds ≤ \(counts.max()!) or cv.strategy: kfold", kind: .usage)
    }
    if smallest < k {
      let c = counts.firstIndex(of: smallest)!
      warnings.append(
        "cv: the least populated class in /labels (class \(label(c))) has only \(smallest) member(s), "
          + "fewer than cv.folds = \(k): some test folds will not contain it")
    }
  }

  // MARK: - GroupKFold

  /// Without shuffle: scikit-learn 1.9.1's greedy balance — groups by size, largest first (a stable sort, so
  /// among equal sizes the larger group id comes first), each into the currently lightest fold (the first
  /// one on a tie). With shuffle: the distinct groups are permuted and split into k nearly equal runs.
  static func groupKFold(_ groups: [Int], spec: FoldSpec) throws -> [Int] {
    let (unique, groupIndex) = uniqueInverse(groups)
    try checkGroupCount(unique.count, k: spec.k)
    var groupToFold = [Int](repeating: 0, count: unique.count)
    if spec.shuffle {
      var order = Array(0..<unique.count)
      var rng = RNG(seed: spec.seed)  // seeded by cv.seed only: folds never depend on the world size
      rng.fisherYatesShuffle(&order)
      var start = 0
      for f in 0..<spec.k {
        let size = unique.count / spec.k + (f < unique.count % spec.k ? 1 : 0)
        for p in start..<(start + size) { groupToFold[order[p]] = f }
        start += size
      }
    } else {
      var sizes = [Int](repeating: 0, count: unique.count)
      for g in groupIndex { sizes[g] += 1 }
      // np.argsort(sizes, kind="stable")[::-1]
      let ascending = Array(0..<unique.count).sorted { sizes[$0] != sizes[$1] ? sizes[$0] < sizes[$1] : $0 < $1 }
      var load = [Int](repeating: 0, count: spec.k)
      for g in ascending.reversed() {
        let lightest = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
        load[lightest] += sizes[g]
        groupToFold[g] = lightest
      }
    }
    return groupIndex.map { groupToFold[$0] }
  }

  private static func checkGroupCount(_ count: Int, k: Int) throws {
    if k > count {
      throw MMError(
        "cv.folds = \(k) is more than the \(count) distinct groups in /groups; use cv.folds ≤ \(count)", kind: .usage)
    }
  }

  /// np.unique(x, return_inverse=True): sorted distinct values and each element's index among them.
  static func uniqueInverse(_ x: [Int]) -> ([Int], [Int]) {
    let unique = Array(Set(x)).sorted()
    var position: [Int: Int] = [:]
    for (i, v) in unique.enumerated() { position[v] = i }
    return (unique, x.map { position[$0]! })
  }

  // MARK: - StratifiedGroupKFold

  /// sklearn's greedy: groups ordered by the standard deviation of their class counts (largest first,
  /// stable), each into the fold that keeps the per-class shares most even (mean over classes of the std
  /// over folds of count / class total), ties (np.isclose) to the fold with fewer samples. The float
  /// arithmetic follows numpy's order of operations so the non-shuffled folds equal sklearn's exactly.
  static func stratifiedGroupKFold(_ labels: [Int], _ groups: [Int], spec: FoldSpec, warnings: inout [String]) throws
    -> [Int]
  {
    let k = spec.k
    let (classValues, classOf) = uniqueInverse(labels)
    let classes = classValues.count
    var classTotal = [Int](repeating: 0, count: classes)
    for c in classOf { classTotal[c] += 1 }
    var code: [Int: Int] = [:]
    for (i, v) in classValues.enumerated() { code[v] = i }
    try checkClassCounts(classTotal, labels: labels, encodedBy: code, k: k, warnings: &warnings)
    let (uniqueGroups, groupOf) = uniqueInverse(groups)
    let groupCount = uniqueGroups.count
    try checkGroupCount(groupCount, k: k)

    var countsPerGroup = [[Double]](repeating: [Double](repeating: 0, count: classes), count: groupCount)
    for (c, g) in zip(classOf, groupOf) { countsPerGroup[g][c] += 1 }
    // With shuffle, groups are visited in a permuted order (sklearn permutes the rows, then sorts stably).
    var visit = Array(0..<groupCount)
    if spec.shuffle {
      var rng = RNG(seed: spec.seed)  // seeded by cv.seed only: folds never depend on the world size
      rng.fisherYatesShuffle(&visit)
    }
    let spread = visit.map { -NumpyArithmetic.std(countsPerGroup[$0]) }
    let sortedPositions = Array(0..<groupCount).sorted { spread[$0] != spread[$1] ? spread[$0] < spread[$1] : $0 < $1 }

    var countsPerFold = [[Double]](repeating: [Double](repeating: 0, count: classes), count: k)
    let totals = classTotal.map(Double.init)
    var groupToFold = [Int](repeating: 0, count: groupCount)
    for p in sortedPositions {
      let g = visit[p]
      let best = bestFold(&countsPerFold, totals: totals, adding: countsPerGroup[g])
      for c in 0..<classes { countsPerFold[best][c] += countsPerGroup[g][c] }
      groupToFold[g] = best
    }
    return groupOf.map { groupToFold[$0] }
  }

  /// sklearn's `_find_best_fold`.
  private static func bestFold(_ countsPerFold: inout [[Double]], totals: [Double], adding group: [Double]) -> Int {
    let k = countsPerFold.count, classes = totals.count
    var best = 0
    var minEval = Double.infinity, minSamples = Double.infinity
    var shares = [[Double]](repeating: [Double](repeating: 0, count: classes), count: k)
    for i in 0..<k {
      for c in 0..<classes { countsPerFold[i][c] += group[c] }
      for f in 0..<k { for c in 0..<classes { shares[f][c] = countsPerFold[f][c] / totals[c] } }
      let stdPerClass = NumpyArithmetic.stdAxis0(shares)
      for c in 0..<classes { countsPerFold[i][c] -= group[c] }
      let eval = NumpyArithmetic.mean(stdPerClass)
      let samples = NumpyArithmetic.sum(countsPerFold[i])
      if eval < minEval || (NumpyArithmetic.isClose(eval, minEval) && samples < minSamples) {
        minEval = eval
        minSamples = samples
        best = i
      }
    }
    return best
  }
}
