import MMTensor

/// `tensor` (Tensor Fusion Network): z_m = [W_m p_m + b_m, 1] (F+1);  z_0 ⊗ z_1 ⊗ ... flattened, z_0 the
/// slowest index (F_out = (F+1)^M). An absent modality is a zero pooled vector (its encoder pools to zeros).
/// Tensors: `fusion.proj.<modality>` = nn.Linear(P_m, F). `model.fusion_size` defaults to 8.
struct TensorFusion: FusionMethod {
  var name: String { "tensor" }
  var concatenatesSteps: Bool { false }
  var defaultHeadHidden: Int { 64 }
  func defaultSize(pooled P: [Int]) -> Int { 8 }
  func outputSize(pooled P: [Int], size F: Int) -> Int { P.reduce(1) { r, _ in r * (F + 1) } }
  func summary(pooled P: [Int], size F: Int) -> String {
    "tensor \(F)+1 per modality = \(outputSize(pooled: P, size: F))"
  }
  func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] {
    ModalityProjections.parameterSpecs(names: names, pooled: P, size: F)
  }
  func makeLayer(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int)
    -> any FusionLayer
  {
    Layer(names: names, pooled: P, size: F, arena: arena, maxBatch: B)
  }

  final class Layer: FusionLayer {
    let size: Int, M: Int, outputSize: Int
    let projections: ModalityProjections  // tokens (B, M, F+1) with the appended 1
    let out: Buffer  // (B, F_out)
    var batch = 0

    init(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int) {
      size = F; M = P.count; outputSize = P.reduce(1) { r, _ in r * (F + 1) }
      projections = ModalityProjections(names: names, pooled: P, size: F, stride: F + 1, arena: arena, maxBatch: B)
      out = Buffer(count: B * outputSize)
    }

    func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float> {
      batch = B
      let o = out.pointer, F = size, Fo = outputSize
      projections.project(p, B: B)
      let t = projections.tok.pointer, Fz = F + 1
      for b in 0..<B {
        for m in 0..<M { t[(b * M + m) * Fz + F] = 1 }
        let ob = o + b * Fo
        ob[0] = 1
        var width = 1
        for m in 0..<M {  // out ← out ⊗ z_m, keeping z_0 the slowest index
          let z = t + (b * M + m) * Fz
          for i in stride(from: width - 1, through: 0, by: -1) {
            let base = ob[i]
            for f in 0..<Fz { ob[i * Fz + f] = base * z[f] }
          }
          width *= Fz
        }
      }
      return UnsafePointer(o)
    }

    func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>]) {
      let B = batch, F = size, Fo = outputSize
      let t = projections.tok.pointer, dt = projections.dTok.pointer, Fz = F + 1
      projections.dTok.zero()
      for b in 0..<B {
        let dob = dOut + b * Fo
        // ∂out[i_0, ..., i_{M-1}] / ∂z_m[i_m] = Π_{n≠m} z_n[i_n]
        for idx in 0..<Fo {
          let g = dob[idx]
          if g == 0 { continue }
          for m in 0..<M {
            // Π over n ≠ m of z_n at idx's digit n (z_0 the most significant digit)
            var others: Float = 1, rest = idx, own = 0
            for n in stride(from: M - 1, through: 0, by: -1) {
              let digit = rest % Fz; rest /= Fz
              if n == m { own = digit } else { others *= t[(b * M + n) * Fz + digit] }
            }
            dt[(b * M + m) * Fz + own] += g * others
          }
        }
      }
      projections.unproject(dPooled, B: B)
    }
  }
}

extension FusionKind {
  public static let tensor = FusionKind(TensorFusion())
}
