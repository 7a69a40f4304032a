import MMHDF5
import MMTensor

/// Reference system E's data (`mmtrain synth --example e`): a label that needs the image and the text together.
///
///     image  [N, 3, 32, 32]  unit noise · 0.3, plus one square patch of +1.5 at a random place: red (channel 0)
///                            for a positive value, blue (channel 2) for a negative one; 10 x 10 for a value of
///                            ±1.5, 5 x 5 for ±0.5
///     text   int64 [N, 40]   token ids, lengths 20...40 (/lengths/text; 0 past them); words 0-49 are positive,
///                            50-99 negative, 100-999 neutral; a word is a sentiment word with probability 0.3,
///                            of the text's polarity with probability 0.8; text value ±1
///     /embeddings/text [1000, 100]  pretrained vectors (GloVe-like): noise, plus a polarity direction for the
///                            sentiment words, so that the frozen table carries the words' meaning
///     /labels [N]            1 when image value + text value > 0 (never 0): the image decides at ±1.5, the
///                            text at ±0.5; either alone is right 75% of the time
enum SynthE {
  static let side = 32, channels = 3, steps = 40, vocabulary = 1000, width = 100

  static func write(samples n: Int, seed: UInt64, to path: String) throws {
    var rng = RNG(seed: seed, stream: 13)
    let P = side * side
    var images = [Float](repeating: 0, count: n * channels * P)
    var ids = [Int64](repeating: 0, count: n * steps)
    var lengths = [Int64](repeating: 0, count: n)
    var labels = [Int64](repeating: 0, count: n)
    for i in 0..<n {
      let image = i * channels * P
      for k in 0..<(channels * P) { images[image + k] = 0.3 * Float(rng.normal()) }
      let magnitude: Float = rng.uniform() < 0.5 ? 1.5 : 0.5
      let imageValue = rng.uniform() < 0.5 ? magnitude : -magnitude
      let size = magnitude > 1 ? 10 : 5
      let top = Int(rng.next() % UInt64(side - size + 1)), left = Int(rng.next() % UInt64(side - size + 1))
      let channel = imageValue > 0 ? 0 : 2
      for y in top..<(top + size) {
        for x in left..<(left + size) { images[image + channel * P + y * side + x] += 1.5 }
      }
      let positive = rng.uniform() < 0.5
      let L = 20 + Int(rng.next() % UInt64(steps - 20 + 1))
      lengths[i] = Int64(L)
      for t in 0..<L {
        var word = 100 + Int(rng.next() % UInt64(vocabulary - 100))
        if rng.uniform() < 0.3 {
          word = (rng.uniform() < 0.8 ? (positive ? 0 : 50) : (positive ? 50 : 0)) + Int(rng.next() % 50)
        }
        ids[i * steps + t] = Int64(word)
      }
      labels[i] = imageValue + (positive ? 1 : -1) > 0 ? 1 : 0
    }
    // Pretrained vectors, fixed by the example (not the seed), as a published table is.
    var tableRNG = RNG(seed: 4321, stream: 14)
    let direction = (0..<width).map { _ in Float(tableRNG.normal()) * 0.5 }
    var table = [Float](repeating: 0, count: vocabulary * width)
    for w in 0..<vocabulary {
      let polarity: Float = w < 50 ? 1 : (w < 100 ? -1 : 0)
      for j in 0..<width { table[w * width + j] = 0.4 * Float(tableRNG.normal()) + polarity * direction[j] }
    }
    let file = try HDF5File(path: path, mode: .truncate)
    defer { file.close() }
    try file.writeFloats("/modalities/image", images, shape: [n, channels, side, side])
    try file.writeInt64s("/modalities/text", ids, shape: [n, steps])
    try file.writeInt64s("/lengths/text", lengths, shape: [n])
    try file.writeFloats("/embeddings/text", table, shape: [vocabulary, width])
    try file.writeInt64s("/labels", labels, shape: [n])
    try file.writeInt64s("/groups", (0..<n).map { Int64($0 % 20) }, shape: [n])
    try file.setAttribute("generator", on: "/", string: "mmtrain synth --example e --samples \(n) --seed \(seed)")
  }
}
