/// Dropout masks that depend only on (seed, epoch, global sample index, site, element), never on the rank
/// or on which other samples share the batch: 1 rank and 4 ranks drop exactly the same units.
///
/// A mask element is 0 with probability p and 1 / (1 - p) otherwise (inverted dropout, as nn.Dropout).
/// `site` tells apart the places a model drops (an encoder's layer boundary, the head input, a modality).
public enum DropoutMask {
  /// SplitMix64's finaliser: a bijective mix of 64 bits.
  @inline(__always) static func mix(_ z0: UInt64) -> UInt64 {
    var z = z0 &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1), a pure function of its arguments.
  @inline(__always)
  public static func uniform(seed: UInt64, epoch: Int, sample: Int, site: Int, index: Int) -> Double {
    var h = mix(seed)
    h = mix(h ^ UInt64(truncatingIfNeeded: epoch))
    h = mix(h ^ UInt64(truncatingIfNeeded: sample))
    h = mix(h ^ UInt64(truncatingIfNeeded: site))
    h = mix(h ^ UInt64(truncatingIfNeeded: index))
    return Double(h >> 11) * 0x1.0p-53
  }

  /// mask[i] for i in 0..<n, the elements offset..<offset+n of one sample's tensor at one site.
  public static func fill(
    _ mask: UnsafeMutablePointer<Float>, count n: Int, p: Double, seed: UInt64, epoch: Int, sample: Int, site: Int,
    offset: Int
  ) {
    let scale = Float(1 / (1 - p))
    for i in 0..<n {
      mask[i] = uniform(seed: seed, epoch: epoch, sample: sample, site: site, index: offset + i) < p ? 0 : scale
    }
  }
}

/// What a training forward pass needs beyond the batch: the seeds of its random choices.
public struct TrainingContext: Sendable {
  public var seed: UInt64
  public var epoch: Int
  /// `train.modality_dropout`: probability of dropping each modality of each sample.
  public var modalityDropout: Double
  public init(seed: UInt64, epoch: Int, modalityDropout: Double) {
    self.seed = seed; self.epoch = epoch; self.modalityDropout = modalityDropout
  }
}

/// Dropout sites (the `site` of `DropoutMask`), one number per place a model draws a mask.
enum DropoutSite {
  static func encoderLayer(_ encoder: Int, _ layer: Int) -> Int { 1000 + 100 * encoder + layer }
  static let headInput = 1
  static let modality = 2
}
