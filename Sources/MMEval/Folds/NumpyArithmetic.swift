/// numpy's order of floating-point operations for the few reductions StratifiedGroupKFold's greedy
/// compares, so that near-ties break the same way as in scikit-learn.
enum NumpyArithmetic {
  /// np.add.reduce over a contiguous row: the first element, plus numpy's pairwise sum of the rest.
  static func sum(_ a: [Double]) -> Double {
    guard let first = a.first else { return 0 }
    return a.count == 1 ? first : first + pairwise(a, 1, a.count - 1)
  }

  /// numpy's pairwise_sum (8 accumulators below 128 elements, halving above).
  private static func pairwise(_ a: [Double], _ start: Int, _ n: Int) -> Double {
    if n < 8 {
      var res = 0.0
      for i in 0..<n { res += a[start + i] }
      return res
    } else if n <= 128 {
      var r = (0..<8).map { a[start + $0] }
      var i = 8
      while i < n - (n % 8) {
        for j in 0..<8 { r[j] += a[start + i + j] }
        i += 8
      }
      var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
      while i < n {
        res += a[start + i]
        i += 1
      }
      return res
    } else {
      var n2 = n / 2
      n2 -= n2 % 8
      return pairwise(a, start, n2) + pairwise(a, start + n2, n - n2)
    }
  }

  static func mean(_ a: [Double]) -> Double { sum(a) / Double(a.count) }

  /// np.std (ddof 0) of a contiguous row.
  static func std(_ a: [Double]) -> Double {
    let m = mean(a)
    return (sum(a.map { ($0 - m) * ($0 - m) }) / Double(a.count)).squareRoot()
  }

  /// np.std(x, axis=0) of a row-major matrix: the reduction runs down the rows one after another.
  static func stdAxis0(_ x: [[Double]]) -> [Double] {
    let rows = Double(x.count)
    var total = x[0]
    for r in 1..<x.count { for c in total.indices { total[c] += x[r][c] } }
    let m = total.map { $0 / rows }
    var sq = x[0].indices.map { (x[0][$0] - m[$0]) * (x[0][$0] - m[$0]) }
    for r in 1..<x.count { for c in sq.indices { sq[c] += (x[r][c] - m[c]) * (x[r][c] - m[c]) } }
    return sq.map { ($0 / rows).squareRoot() }
  }

  /// np.isclose(a, b): |a - b| <= 1e-8 + 1e-5 |b| (never for an infinite b unless equal).
  static func isClose(_ a: Double, _ b: Double) -> Bool {
    if a == b { return true }
    if !a.isFinite || !b.isFinite { return false }
    return abs(a - b) <= 1e-8 + 1e-5 * abs(b)
  }
}
