/// The fold shuffles' random numbers: xoshiro256** seeded through SplitMix64 (the same generator as
/// MMTensor.RNG, repeated here so this module needs nothing but Foundation). Seeded by `cv.seed` only,
/// so the folds never depend on the world size or the rank.
struct FoldRNG {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  init(seed: UInt64) {
    var sm = seed &+ 0x9E37_79B9_7F4A_7C15
    func splitmix() -> UInt64 {
      sm &+= 0x9E37_79B9_7F4A_7C15
      var z = sm
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s = (splitmix(), splitmix(), splitmix(), splitmix())
  }

  private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  mutating func next() -> UInt64 {
    let result = FoldRNG.rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = FoldRNG.rotl(s.3, 45)
    return result
  }

  /// Fisher-Yates, from the back: element i swaps with a uniform j in 0...i (next() mod (i+1); the
  /// modulo bias is below 2^-40 for any realistic array).
  mutating func shuffle<T>(_ a: inout [T]) {
    var i = a.count - 1
    while i > 0 {
      let j = Int(next() % UInt64(i + 1))
      a.swapAt(i, j)
      i -= 1
    }
  }
}
