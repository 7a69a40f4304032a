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
