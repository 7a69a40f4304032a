/// Seeded, portable pseudo-random numbers (xoshiro256**, seeded through SplitMix64).
///
/// The same seed gives the same stream on every machine and every rank, which is what makes
/// initialisation, shuffling and the synthetic data set reproducible. The state is four UInt64s,
/// saved in checkpoints.
public struct RNG: RandomNumberGenerator, Equatable {
  public var state: (UInt64, UInt64, UInt64, UInt64)

  public init(seed: UInt64, stream: UInt64 = 0) {
    var sm = seed &+ 0x9E37_79B9_7F4A_7C15 &* (stream &+ 1)
    func splitmix() -> UInt64 {
      sm &+= 0x9E37_79B9_7F4A_7C15
      var z = sm
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    state = (splitmix(), splitmix(), splitmix(), splitmix())
  }

  public init(state: [UInt64]) {
    precondition(state.count == 4)
    self.state = (state[0], state[1], state[2], state[3])
  }

  public var stateArray: [UInt64] { [state.0, state.1, state.2, state.3] }

  public static func == (a: RNG, b: RNG) -> Bool { a.stateArray == b.stateArray }

  @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  public mutating func next() -> UInt64 {
    let result = RNG.rotl(state.1 &* 5, 7) &* 9
    let t = state.1 << 17
    state.2 ^= state.0
    state.3 ^= state.1
    state.1 ^= state.2
    state.0 ^= state.3
    state.2 ^= t
    state.3 = RNG.rotl(state.3, 45)
    return result
  }

  /// Fisher-Yates from the back: element i swaps with j = next() mod (i+1) in 0...i (the modulo bias is below
  /// 2^-40 for any realistic array). Portable, unlike the standard library's `shuffle(using:)`, whose
  /// algorithm is not specified: the cv folds rely on the same order on every machine.
  public mutating func fisherYatesShuffle<T>(_ a: inout [T]) {
    var i = a.count - 1
    while i > 0 {
      a.swapAt(i, Int(next() % UInt64(i + 1)))
      i -= 1
    }
  }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// Uniform in [lo, hi).
  public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

  /// Standard normal (Box-Muller).
  public mutating func normal() -> Double {
    let u1 = max(uniform(), 1e-300), u2 = uniform()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }

  /// A uniformly random permutation of 0..<n (Fisher-Yates).
  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    if n < 2 { return p }
    for i in stride(from: n - 1, to: 0, by: -1) {
      let j = Int(next() % UInt64(i + 1))
      p.swapAt(i, j)
    }
    return p
  }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
