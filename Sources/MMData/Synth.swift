import MMHDF5
import MMTensor

/// A deterministic synthetic data set in the contract's layout, the demo's data.
///
/// Each sample draws two hidden signs a, b ∈ {-1, +1}. The text stream carries a on a few features, the
/// audio stream (sampled at twice the rate, so the streams are unaligned) carries b, and the label is
/// [a == b]: an interaction, so neither modality alone beats chance and the model must fuse them.
/// Vision is distractor noise and is absent (length 0) for about 5% of samples.
///
/// Lengths: by default each stream's valid length is drawn on its own (text and vision uniform in T/2...T,
/// audio about twice text's). With `minLength` set, one duration L per sample, uniform in minLength...T, is
/// shared by every stream (audio: audioRate × L; vision ≤ L), so the fused length is exactly L (the
/// benchmark's varied-length workload).
public struct SynthSpec: Equatable {
  public var samples = 2000
  public var steps = 20  // T of text and vision; audio has audioRate × T
  public var audioRate = 2  // audio steps per text step (1: all streams on one grid)
  public var minLength: Int? = nil  // nil: independent lengths (T/2...T); else shared, uniform in minLength...T
  public var seed: UInt64 = 7
  public var textFeatures = 300
  public var audioFeatures = 74
  public var visionFeatures = 35
  public var signal: Float = 0.8  // shift of the informative features, in noise standard deviations
  public var speakers = 20
  public init() {}
}

public enum Synth {
  public static func write(_ spec: SynthSpec, to path: String) throws {
    let n = spec.samples, T = spec.steps, R = max(spec.audioRate, 1)
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
      if let lo = spec.minLength.map({ min(max($0, 1), T) }) {
        let L = Int64(lo + Int(rng.next() % UInt64(T - lo + 1)))
        lenText[i] = L
        lenAudio[i] = Int64(R) * L
        lenVision[i] = rng.uniform() < 0.05 ? 0 : L
        continue
      }
      lenText[i] = Int64(T / 2 + Int(rng.next() % UInt64(T - T / 2 + 1)))
      lenAudio[i] = min(Int64(R * T), Int64(R) * lenText[i] - (R > 1 ? Int64(rng.next() % 2) : 0))
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
    try file.writeFloats(
      "/modalities/text", stream(T, spec.textFeatures, lenText, a), shape: [n, T, spec.textFeatures])
    try file.writeFloats(
      "/modalities/audio", stream(R * T, spec.audioFeatures, lenAudio, b), shape: [n, R * T, spec.audioFeatures])
    try file.writeFloats(
      "/modalities/vision", stream(T, spec.visionFeatures, lenVision, nil), shape: [n, T, spec.visionFeatures])
    try file.writeInt64s("/labels", labels, shape: [n])
    try file.setAttribute("class_names", on: "/labels", strings: ["different", "same"])
    try file.writeInt64s("/lengths/text", lenText, shape: [n])
    try file.writeInt64s("/lengths/audio", lenAudio, shape: [n])
    try file.writeInt64s("/lengths/vision", lenVision, shape: [n])
    try file.writeInt64s("/groups", groups, shape: [n])
    let options = (R != 2 ? " --audio-rate \(R)" : "") + (spec.minLength.map { " --min-length \($0)" } ?? "")
    try file.setAttribute(
      "generator", on: "/", string: "mmtrain synth --samples \(n) --steps \(T) --seed \(spec.seed)\(options)")
  }
}
