import MMTensor

/// `early` and `late`: the pooled vectors side by side, [p_0 | p_1 | ...] (F_out = Σ P_m); no tensors.
/// Early fusion has a single encoder over all modalities' features concatenated per step (lengths = the
/// longest modality's), so its one pooled vector passes through; late fusion has one encoder per modality.
struct ConcatFusion: FusionMethod {
  let name: String
  let concatenatesSteps: Bool
  var defaultHeadHidden: Int { concatenatesSteps ? 0 : 64 }
  func defaultSize(pooled P: [Int]) -> Int { P.max()! }  // unused: nothing is projected
  func outputSize(pooled P: [Int], size F: Int) -> Int { P.reduce(0, +) }
  func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] { [] }
  func summary(pooled P: [Int], size F: Int) -> String { "concat \(outputSize(pooled: P, size: F))" }
  func makeLayer(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int)
    -> any FusionLayer
  {
    Layer(pooled: P, maxBatch: B)
  }

  final class Layer: FusionLayer {
    let pooled: [Int], outputSize: Int, M: Int
    let out: Buffer  // (B, F_out)
    var batch = 0

    init(pooled P: [Int], maxBatch B: Int) {
      pooled = P; M = P.count; outputSize = P.reduce(0, +)
      out = Buffer(count: B * outputSize)
    }

    func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float> {
      batch = B
      let o = out.pointer, Fo = outputSize
      var col = 0
      for m in 0..<M {
        for b in 0..<B { (o + b * Fo + col).update(from: p[m] + b * pooled[m], count: pooled[m]) }
        col += pooled[m]
      }
      return UnsafePointer(o)
    }

    func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>]) {
      let B = batch, Fo = outputSize
      var col = 0
      for m in 0..<M {
        for b in 0..<B { (dPooled[m] + b * pooled[m]).update(from: dOut + b * Fo + col, count: pooled[m]) }
        col += pooled[m]
      }
    }
  }
}

extension FusionKind {
  public static let early = FusionKind(ConcatFusion(name: "early", concatenatesSteps: true))
  public static let late = FusionKind(ConcatFusion(name: "late", concatenatesSteps: false))
}
