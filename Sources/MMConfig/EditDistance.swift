// Edit distance for the did-you-mean hint on unknown keys.

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two adjacent
/// characters each cost 1, so the common typo "trian" is 1 away from "train" (plain Levenshtein says 2).
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a)
  let b = Array(b)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  // d[i][j] = distance between a[..<i] and b[..<j]; rows kept: two back (for swaps), one back, current.
  var twoBack = [Int](repeating: 0, count: b.count + 1)
  var oneBack = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let substitution = oneBack[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
      current[j] = min(oneBack[j] + 1, current[j - 1] + 1, substitution)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        current[j] = min(current[j], twoBack[j - 2] + 1)
      }
    }
    (twoBack, oneBack, current) = (oneBack, current, twoBack)
  }
  return oneBack[b.count]
}
