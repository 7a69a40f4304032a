import MMHDF5
import MMTensor

/// A deterministic synthetic data set in the contract's layout, the demo's data.
///
/// Each sample draws two hidden signs a, b ∈ {-1, +1}. The text stream carries a on a few features, the
/// audio stream (sampled at twice the rate, so the streams are unaligned) carries b, and the label is
/// [a == b]: an interaction, so neither modality alone beats chance and the model must fuse them.
/// Vision is distractor noise and is absent (length 0) for about 5% of samples.
public struct SynthSpec: Equatable {
  public var samples = 2000
  public var steps = 20              // T of text and vision; audio has 2T
  public var seed: UInt64 = 7
  public var textFeatures = 300
  public var audioFeatures = 74
  public var visionFeatures = 35
  public var signal: Float = 0.8     // shift of the informative features, in noise standard deviations
  public var speakers = 20
  public init() {}
}

public enum Synth {
  public static func write(_ spec: SynthSpec, to path: String) throws {
    let n = spec.samples, T = spec.steps
    var rng = RNG(seed: spec.seed, stream: 7)
    let informative = 8
    var a = [Float](repeating: 0, count: n), b = a
    var labels = [Int64](repeating: 0, count: n), groups = labels
    var lenText = labels, lenAudio = labels, lenVision = labels
    for i in 0..<n {
      a[i] = rng.uniform() < 0.5 ? -1 : 1
      b[i] = rng.uniform() < 0.5 ? -1 : 1
      labels[i] = a[i] == b[i] ? 1 : 0
      groups[i] = Int64(i % max(spec.speakers, 1))
      lenText[i] = Int64(T / 2 + Int(rng.next() % UInt64(T - T / 2 + 1)))
      lenAudio[i] = min(Int64(2 * T), 2 * lenText[i] - Int64(rng.next() % 2))
      lenVision[i] = rng.uniform() < 0.05 ? 0 : Int64(T / 2 + Int(rng.next() % UInt64(T - T / 2 + 1)))
    }
    func stream(_ T: Int, _ D: Int, _ lengths: [Int64], _ sign: [Float]?) -> [Float] {
      var x = [Float](repeating: 0, count: n * T * D)
      for i in 0..<n {
        for t in 0..<Int(lengths[i]) {
          let row = (i * T + t) * D
          for j in 0..<D { x[row + j] = Float(rng.normal()) }
          if let sign { for j in 0..<min(informative, D) { x[row + j] += spec.signal * sign[i] } }
        }
      }
      return x
    }
    let file = try HDF5File(path: path, mode: .truncate)
    defer { file.close() }
    try file.writeFloats("/modalities/text", stream(T, spec.textFeatures, lenText, a), shape: [n, T, spec.textFeatures])
    try file.writeFloats("/modalities/audio", stream(2 * T, spec.audioFeatures, lenAudio, b), shape: [n, 2 * T, spec.audioFeatures])
    try file.writeFloats("/modalities/vision", stream(T, spec.visionFeatures, lenVision, nil), shape: [n, T, spec.visionFeatures])
    try file.writeInt64s("/labels", labels, shape: [n])
    try file.setAttribute("class_names", on: "/labels", strings: ["different", "same"])
    try file.writeInt64s("/lengths/text", lenText, shape: [n])
    try file.writeInt64s("/lengths/audio", lenAudio, shape: [n])
    try file.writeInt64s("/lengths/vision", lenVision, shape: [n])
    try file.writeInt64s("/groups", groups, shape: [n])
    try file.setAttribute("generator", on: "/", string: "mmtrain synth --samples \(n) --steps \(T) --seed \(spec.seed)")
  }
}
