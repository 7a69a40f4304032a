/// `max`: max_{t<L} h_t per feature; backward routes each feature's gradient to the step that won.
struct MaxPooling: PoolingMethod {
  var name: String { "max" }
  func makeLayer(
    arena: ParameterArena, prefix: String, size Hs: Int, bidirectional: Bool, attention A: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> any PoolingLayer {
    Layer(size: Hs, maxBatch: B)
  }

  final class Layer: PoolingLayer {
    let size: Int
    let argmax: UnsafeMutablePointer<Int32>  // (B, Hs) the step that won

    init(size Hs: Int, maxBatch B: Int) {
      size = Hs
      argmax = .allocate(capacity: B * Hs)
      argmax.initialize(repeating: 0, count: B * Hs)
    }

    deinit { argmax.deallocate() }

    func forward(
      _ seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
      out: UnsafeMutablePointer<Float>
    ) {
      let Hs = size
      for b in 0..<B where lengths[b] > 0 {
        let L = Int(lengths[b]), o = out + b * Hs, am = argmax + b * Hs
        o.update(from: seq + b * Hs, count: Hs)
        am.update(repeating: 0, count: Hs)
        for t in 1..<Swift.max(L, 1) {
          let s = seq + (t * B + b) * Hs
          for j in 0..<Hs where s[j] > o[j] { o[j] = s[j]; am[j] = Int32(t) }
        }
      }
    }

    func backward(
      _ dOut: UnsafePointer<Float>, seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int,
      batch B: Int,
      dSeq: UnsafeMutablePointer<Float>
    ) {
      let Hs = size
      for b in 0..<B where lengths[b] > 0 {
        let d = dOut + b * Hs, am = argmax + b * Hs
        for j in 0..<Hs { dSeq[(Int(am[j]) * B + b) * Hs + j] = d[j] }
      }
    }
  }
}

extension PoolingKind {
  public static let max = PoolingKind(MaxPooling())
}
