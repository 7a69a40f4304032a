import MMTensor

/// Which rows of the file each rank owns: contiguous blocks whose sizes differ by at most one, so every
/// row is read by exactly one rank and each rank holds about N / world rows.
public enum Sharding {
  public static func rows(rank: Int, world: Int, count n: Int) -> Range<Int> {
    precondition(world > 0 && rank >= 0 && rank < world)
    let base = n / world, extra = n % world
    let start = rank * base + min(rank, extra)
    return start..<(start + base + (rank < extra ? 1 : 0))
  }

  /// The rank whose `rows` hold global row `row` (the inverse of `rows`; O(1)).
  @inline(__always)
  public static func owner(of row: Int, world: Int, count n: Int) -> Int {
    precondition(row >= 0 && row < n, "row \(row) outside 0..<\(n)")
    let base = n / world, extra = n % world, big = extra * (base + 1)  // the first `extra` ranks hold base + 1
    return row < big ? row / (base + 1) : extra + (row - big) / base
  }
}

/// The train/validation split: a seeded choice of round(N * fraction) validation rows, the same on every
/// rank and for every world size.
public enum Split {
  public static func validationMask(count n: Int, fraction: Double, seed: UInt64) -> [Bool] {
    var mask = [Bool](repeating: false, count: n)
    if fraction <= 0 || n < 2 { return mask }
    let k = min(n - 1, max(1, Int((Double(n) * fraction).rounded())))
    var rng = RNG(seed: seed, stream: 2)
    for i in rng.permutation(n).prefix(k) { mask[i] = true }
    return mask
  }
}

/// Per-epoch order of the training rows: a permutation seeded by (seed, epoch), independent of the world
/// size. Global batch `s` of an epoch is `order[s*B ..< min((s+1)*B, n)]`; every rank computes the same
/// batches and takes the rows it owns, so all ranks take `stepsPerEpoch` steps.
public struct EpochSampler {
  public let trainRows: [Int]   // global row ids, ascending
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
