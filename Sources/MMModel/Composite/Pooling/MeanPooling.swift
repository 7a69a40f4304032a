/// `mean`: (1/L) Σ_{t<L} h_t.
struct MeanPooling: PoolingMethod {
  var name: String { "mean" }
  func makeLayer(
    arena: ParameterArena, prefix: String, size Hs: Int, bidirectional: Bool, attention A: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> any PoolingLayer {
    Layer(size: Hs)
  }

  final class Layer: PoolingLayer {
    let size: Int
    init(size: Int) { self.size = size }

    func forward(
      _ seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
      out: UnsafeMutablePointer<Float>
    ) {
      let Hs = size
      for b in 0..<B where lengths[b] > 0 {
        let L = Int(lengths[b]), o = out + b * Hs
        for t in 0..<L { let s = seq + (t * B + b) * Hs; for j in 0..<Hs { o[j] += s[j] } }
        let inv = 1 / Float(L)
        for j in 0..<Hs { o[j] *= inv }
      }
    }

    func backward(
      _ dOut: UnsafePointer<Float>, seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int,
      batch B: Int,
      dSeq: UnsafeMutablePointer<Float>
    ) {
      let Hs = size
      for b in 0..<B where lengths[b] > 0 {
        let L = Int(lengths[b]), inv = 1 / Float(L), d = dOut + b * Hs
        for t in 0..<L { let ds = dSeq + (t * B + b) * Hs; for j in 0..<Hs { ds[j] = d[j] * inv } }
      }
    }
  }
}

extension PoolingKind {
  public static let mean = PoolingKind(MeanPooling())
}
