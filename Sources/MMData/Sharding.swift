import MMTensor

/// The train/validation split: a seeded choice of round(N * fraction) validation rows, the same on every
/// rank and for every world size.
/// `data.split`: how the validation rows are held out.
public enum SplitKind: String, CaseIterable, Sendable { case random, group, stratified }

public enum Split {
  public static func validationMask(count n: Int, fraction: Double, seed: UInt64) -> [Bool] {
    var mask = [Bool](repeating: false, count: n)
    if fraction <= 0 || n < 2 { return mask }
    let k = min(n - 1, max(1, Int((Double(n) * fraction).rounded())))
    var rng = RNG(seed: seed, stream: 2)
    for i in rng.permutation(n).prefix(k) { mask[i] = true }
    return mask
  }

  /// The validation rows of `data.split`. `groups` and `labels` are per row (of these n rows), needed by
  /// `group` and `stratified`. Depends only on the seed and the rows, never on the world size.
  /// - random: round(n · fraction) rows (at least 1, at most n − 1);
  /// - group: whole groups, ceil(G · fraction) of the G groups (scikit-learn's GroupShuffleSplit counts
  ///   groups, not rows), at least 1 and at most G − 1;
  /// - stratified: round(n_c · fraction) rows of every class c (at most n_c − 1), so class shares are kept.
  public static func validationMask(
    count n: Int, fraction: Double, seed: UInt64, kind: SplitKind, groups: [Int]?, labels: [Int]?
  ) -> [Bool] {
    switch kind {
    case .random:
      return validationMask(count: n, fraction: fraction, seed: seed)
    case .group:
      var mask = [Bool](repeating: false, count: n)
      guard let groups, fraction > 0 else { return mask }
      let ids = Array(Set(groups)).sorted()
      guard ids.count >= 2 else { return mask }
      let k = min(ids.count - 1, max(1, Int((Double(ids.count) * fraction).rounded(.up))))
      var rng = RNG(seed: seed, stream: 2)
      let held = Set(rng.permutation(ids.count).prefix(k).map { ids[$0] })
      for i in 0..<n where held.contains(groups[i]) { mask[i] = true }
      return mask
    case .stratified:
      var mask = [Bool](repeating: false, count: n)
      guard let labels, fraction > 0 else { return mask }
      var rng = RNG(seed: seed, stream: 2)
      for c in Set(labels).sorted() {
        let rows = (0..<n).filter { labels[$0] == c }
        let k = min(rows.count - 1, Int((Double(rows.count) * fraction).rounded()))
        guard k > 0 else { continue }
        for i in rng.permutation(rows.count).prefix(k) { mask[rows[i]] = true }
      }
      return mask
    }
  }
}

/// Per-epoch order of the training rows: a permutation seeded by (seed, epoch), independent of the world
/// size. Global batch `s` of an epoch is `order[s*B ..< min((s+1)*B, n)]`; every rank computes the same
/// batches and takes the rows it owns, so all ranks take `stepsPerEpoch` steps.
public struct EpochSampler {
  public let trainRows: [Int]  // global row ids, ascending
  public let batchSize: Int
  public let seed: UInt64

  public init(trainRows: [Int], batchSize: Int, seed: UInt64) {
    self.trainRows = trainRows; self.batchSize = batchSize; self.seed = seed
  }

  public var stepsPerEpoch: Int { (trainRows.count + batchSize - 1) / batchSize }

  /// The RNG that orders `epoch` (saved in checkpoints as the sampler's RNG state).
  public func rng(epoch: Int) -> RNG { RNG(seed: seed, stream: 1000 + UInt64(epoch)) }

  public func order(epoch: Int) -> [Int] {
    var rng = rng(epoch: epoch)
    return rng.permutation(trainRows.count).map { trainRows[$0] }
  }

  public func batch(_ step: Int, of order: [Int]) -> ArraySlice<Int> {
    order[(step * batchSize)..<min((step + 1) * batchSize, order.count)]
  }
}
