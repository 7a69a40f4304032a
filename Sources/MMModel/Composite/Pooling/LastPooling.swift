/// `last`: the output at step L-1; bidirectional: the forward half at L-1, the reverse half at 0 (as h_n).
struct LastPooling: PoolingMethod {
  var name: String { "last" }
  func makeLayer(
    arena: ParameterArena, prefix: String, size Hs: Int, bidirectional: Bool, attention A: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> any PoolingLayer {
    Layer(size: Hs, bidirectional: bidirectional)
  }

  final class Layer: PoolingLayer {
    let size: Int, bidirectional: Bool
    init(size: Int, bidirectional: Bool) { self.size = size; self.bidirectional = bidirectional }

    func forward(
      _ seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
      out: UnsafeMutablePointer<Float>
    ) {
      let Hs = size, h = bidirectional ? Hs / 2 : Hs
      for b in 0..<B where lengths[b] > 0 {
        let t = Int(lengths[b]) - 1
        (out + b * Hs).update(from: seq + (t * B + b) * Hs, count: h)
        if bidirectional { (out + b * Hs + h).update(from: seq + b * Hs + h, count: h) }  // reverse half at step 0
      }
    }

    func backward(
      _ dOut: UnsafePointer<Float>, seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int,
      batch B: Int,
      dSeq: UnsafeMutablePointer<Float>
    ) {
      let Hs = size, h = bidirectional ? Hs / 2 : Hs
      for b in 0..<B where lengths[b] > 0 {
        let t = Int(lengths[b]) - 1
        (dSeq + (t * B + b) * Hs).update(from: dOut + b * Hs, count: h)
        if bidirectional { (dSeq + b * Hs + h).update(from: dOut + b * Hs + h, count: h) }
      }
    }
  }
}

extension PoolingKind {
  public static let last = PoolingKind(LastPooling())
}
