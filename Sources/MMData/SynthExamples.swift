import MMHDF5
import MMTensor

/// Data shaped for the reference systems of the model zoo (`mmtrain synth --example a|b|c|d`), each with a
/// label that needs its architecture: a recurrent memory of the past, at every step or at the end.
///
///     a  sensor streams [N, 50, 8]; per step, binary: is the sum of feature 0 over the last 5 steps positive?
///     b  symbols [N, 40, 16] (one of 10 prototype vectors + noise per step); per step, 10 classes: the symbol
///        shown 2 steps earlier (at steps 0 and 1, the current one)
///     c  text as word vectors [N, 100, 64] (a 50-word vocabulary + noise; lengths 60...100), 40% of them
///        sentiment words, mostly (80%) positive in a positive text; binary: is the text positive?
///     d  noisy readings [N, 30, 16] of one of 10 prototype signals (0.35 · prototype + unit noise at every
///        step: no single step tells them apart); 10 classes: which prototype
///     e  an RGB image [N, 3, 32, 32] and a text of token ids [N, 40] (lengths 20...40, a 1000-word vocabulary
///        with pretrained 100-d vectors in /embeddings/text); binary: is image value + text value > 0? (SynthE)
///
/// a-d: all lengths are in /lengths/x; the modality is /modalities/x. e: /modalities/image, /modalities/text,
/// /lengths/text.
public enum SynthExample: String, CaseIterable, Sendable {
  case a, b, c, d, e

  public var summary: String {
    switch self {
    case .a: return "x [50, 8]; a binary label per step (the last 5 steps' sum of feature 0 > 0)"
    case .b: return "x [40, 16]; one of 10 classes per step (the symbol 2 steps earlier)"
    case .c: return "x [100, 64] word vectors; binary (mostly positive or mostly negative sentiment words)"
    case .d: return "x [30, 16]; 10 classes (which of 10 signals, under noise, over all steps)"
    case .e:
      return "image [3, 32, 32] and text [40] token ids with pretrained vectors [1000, 100]; binary (image and text "
        + "together: neither alone)"
    }
  }

  /// Writes N samples drawn from `seed` to `path`.
  public func write(samples n: Int, seed: UInt64, to path: String) throws {
    if self == .e { return try SynthE.write(samples: n, seed: seed, to: path) }
    var rng = RNG(seed: seed, stream: 11)
    let (T, D): (Int, Int)
    switch self {
    case .a: (T, D) = (50, 8)
    case .b: (T, D) = (40, 16)
    case .c: (T, D) = (100, 64)
    case .d, .e: (T, D) = (30, 16)
    }
    var x = [Float](repeating: 0, count: n * T * D)
    var lengths = [Int64](repeating: Int64(T), count: n)
    var sampleLabels = [Int64](repeating: 0, count: n)
    var stepLabels = [Int64](repeating: 0, count: n * T)
    // Prototype vectors: 10 symbols (b, d) or a 50-word vocabulary (c), fixed by the example, not the seed.
    var protoRNG = RNG(seed: 1234, stream: 12)
    let protos = (0..<50).map { _ in (0..<D).map { _ in Float(protoRNG.normal()) } }
    func put(_ i: Int, _ t: Int, _ v: [Float], noise: Float) {
      for j in 0..<D { x[(i * T + t) * D + j] = v[j] + noise * Float(rng.normal()) }
    }
    for i in 0..<n {
      switch self {
      case .a:
        for t in 0..<T { for j in 0..<D { x[(i * T + t) * D + j] = Float(rng.normal()) } }
        for t in 0..<T {
          var sum: Float = 0
          for s in max(0, t - 4)...t { sum += x[(i * T + s) * D] }
          stepLabels[i * T + t] = sum > 0 ? 1 : 0
        }
      case .b:
        var symbols: [Int] = []
        for t in 0..<T {
          let s = Int(rng.next() % 10)
          symbols.append(s)
          put(i, t, protos[s], noise: 0.5)
          stepLabels[i * T + t] = Int64(t >= 2 ? symbols[t - 2] : s)
        }
      case .c:
        // Words 0-4 are positive, 5-9 negative, 10-49 neutral: a word is a sentiment word with probability 0.4,
        // positive with probability 0.8 in a positive text (label 1) and 0.2 in a negative one.
        let L = 60 + Int(rng.next() % 41)
        lengths[i] = Int64(L)
        let positive = rng.uniform() < 0.5
        for t in 0..<L {
          var word = 10 + Int(rng.next() % 40)
          if rng.uniform() < 0.4 { word = (rng.uniform() < (positive ? 0.8 : 0.2) ? 0 : 5) + Int(rng.next() % 5) }
          put(i, t, protos[word], noise: 0.3)
        }
        sampleLabels[i] = positive ? 1 : 0
      case .d, .e:
        let c = Int(rng.next() % 10)
        sampleLabels[i] = Int64(c)
        for t in 0..<T { put(i, t, protos[c].map { 0.35 * $0 }, noise: 1) }
      }
    }
    let file = try HDF5File(path: path, mode: .truncate)
    defer { file.close() }
    try file.writeFloats("/modalities/x", x, shape: [n, T, D])
    try file.writeInt64s("/lengths/x", lengths, shape: [n])
    switch self {
    case .a, .b: try file.writeInt64s("/labels", stepLabels, shape: [n, T])
    case .c, .d, .e: try file.writeInt64s("/labels", sampleLabels, shape: [n])
    }
    try file.writeInt64s("/groups", (0..<n).map { Int64($0 % 20) }, shape: [n])
    try file.setAttribute(
      "generator", on: "/", string: "mmtrain synth --example \(rawValue) --samples \(n) --seed \(seed)")
  }
}
