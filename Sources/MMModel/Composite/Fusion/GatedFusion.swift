import MMTensor

/// `gated`: a gated multimodal unit (Arevalo et al. 2017) for M modalities, with a per-feature gate per
/// modality computed from all of them (F_out = F):
///
///     z_m = W_m p_m + b_m (F);   g_m = σ(U_m [p_0; p_1; ...; p_{M-1}] + c_m) (F);   fused = Σ_m g_m ⊙ tanh(z_m)
///
/// An absent modality is a zero pooled vector (its encoder pools to zeros), as in late and tensor fusion.
/// Tensors, as PyTorch modules: `fusion.proj.<modality>` = nn.Linear(P_m, F), then `fusion.gate.<modality>` =
/// nn.Linear(Σ P, F), modalities in model order. `model.fusion_size` defaults to the largest P_m.
struct GatedFusion: FusionMethod {
  var name: String { "gated" }
  var concatenatesSteps: Bool { false }
  var defaultHeadHidden: Int { 64 }
  func defaultSize(pooled P: [Int]) -> Int { P.max()! }
  func outputSize(pooled P: [Int], size F: Int) -> Int { F }
  func summary(pooled P: [Int], size F: Int) -> String { "gated \(F)" }

  func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] {
    let all = P.reduce(0, +), bound = 1 / Double(all).squareRoot()
    return ModalityProjections.parameterSpecs(names: names, pooled: P, size: F)
      + names.flatMap { name in
        [
          ParameterSpec("fusion.gate.\(name).weight", [F, all], bound: bound),
          ParameterSpec("fusion.gate.\(name).bias", [F], bound: bound),
        ]
      }
  }

  func makeLayer(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int)
    -> any FusionLayer
  {
    Layer(names: names, pooled: P, size: F, arena: arena, maxBatch: B)
  }

  /// Legend: B = batch, M = modalities, P_m = pooled sizes, Pc = Σ P_m, F = fusion size.
  final class Layer: FusionLayer {
    let pooled: [Int], size: Int, M: Int, concatSize: Int
    var outputSize: Int { size }
    let projections: ModalityProjections  // tok (B, M, F): z_m, then tanh(z_m) in place (cached)
    let gateW, gateB, gateGW, gateGB: [UnsafeMutablePointer<Float>]  // per modality U_m (F, Pc), c_m (F)
    let cat: Buffer  // (B, Pc)    [p_0 | p_1 | ...] (cached)
    let gates: Buffer  // (B, M, F)  g_m (cached); backward: the gradient of the gates' pre-activations
    let dCat: Buffer  // (B, Pc)
    let out: Buffer  // (B, F)
    var batch = 0

    init(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int) {
      pooled = P; size = F; M = P.count; concatSize = P.reduce(0, +)
      projections = ModalityProjections(names: names, pooled: P, size: F, stride: F, arena: arena, maxBatch: B)
      gateW = names.map { arena.value("fusion.gate.\($0).weight") };
      gateB = names.map { arena.value("fusion.gate.\($0).bias") }
      gateGW = names.map { arena.grad("fusion.gate.\($0).weight") };
      gateGB = names.map { arena.grad("fusion.gate.\($0).bias") }
      cat = Buffer(count: B * concatSize); dCat = Buffer(count: B * concatSize)
      gates = Buffer(count: B * M * F)
      out = Buffer(count: B * F)
    }

    func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float> {
      batch = B
      let F = size, Pc = concatSize, c = cat.pointer, g = gates.pointer, o = out.pointer
      var col = 0
      for m in 0..<M {  // cat = [p_0 | p_1 | ...]
        for b in 0..<B { (c + b * Pc + col).update(from: p[m] + b * pooled[m], count: pooled[m]) }
        col += pooled[m]
      }
      projections.project(p, B: B)
      let th = projections.tok.pointer
      for r in 0..<(B * M) { Activations.tanh(th + r * F, F) }  // tanh(z_m)
      for m in 0..<M {
        // g_m (B, F) = σ(cat (B, Pc) · U_mᵀ + c_m), rows M·F apart in gates
        BLAS.gemm(
          transB: true, m: B, n: F, k: Pc, a: c, lda: Pc, b: gateW[m], ldb: Pc, beta: 0, c: g + m * F, ldc: M * F)
        for b in 0..<B {
          let r = g + (b * M + m) * F; for j in 0..<F { r[j] += gateB[m][j] }; Activations.sigmoid(r, F)
        }
      }
      for b in 0..<B {  // fused = Σ_m g_m ⊙ tanh(z_m)
        let ob = o + b * F
        ob.update(repeating: 0, count: F)
        for m in 0..<M {
          let gr = g + (b * M + m) * F, tr = th + (b * M + m) * F; for j in 0..<F { ob[j] += gr[j] * tr[j] }
        }
      }
      return UnsafePointer(o)
    }

    func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>]) {
      let B = batch, F = size, Pc = concatSize, c = cat.pointer, g = gates.pointer, dc = dCat.pointer
      let th = projections.tok.pointer, dz = projections.dTok.pointer
      for b in 0..<B {
        let d = dOut + b * F
        for m in 0..<M {
          let i = (b * M + m) * F
          for j in 0..<F {
            let gj = g[i + j], tj = th[i + j]
            dz[i + j] = d[j] * gj * (1 - tj * tj)  // fused += g_m ⊙ tanh(z_m)
            g[i + j] = d[j] * tj * gj * (1 - gj)  // g_m = σ(.): over the cached gate, now read
          }
        }
      }
      projections.unproject(dPooled, B: B)  // dPooled_m = dz_m · W_m (overwritten) and W_m's, b_m's gradients
      for m in 0..<M {
        // U_m (F, Pc) += dg_mᵀ (F, B) · cat (B, Pc);  c_m += Σ_b dg_m;  dCat (B, Pc) (+)= dg_m (B, F) · U_m (F, Pc)
        BLAS.gemm(
          transA: true, m: F, n: Pc, k: B, a: g + m * F, lda: M * F, b: c, ldb: Pc, beta: 1, c: gateGW[m], ldc: Pc)
        for b in 0..<B { let r = g + (b * M + m) * F; for j in 0..<F { gateGB[m][j] += r[j] } }
        BLAS.gemm(
          m: B, n: Pc, k: F, a: g + m * F, lda: M * F, b: gateW[m], ldb: Pc, beta: m == 0 ? 0 : 1, c: dc, ldc: Pc)
      }
      var col = 0
      for m in 0..<M {  // cat = [p_0 | p_1 | ...]: each p_m also reaches every gate
        for b in 0..<B {
          let dp = dPooled[m] + b * pooled[m], r = dc + b * Pc + col; for j in 0..<pooled[m] { dp[j] += r[j] }
        }
        col += pooled[m]
      }
    }
  }
}

extension FusionKind {
  public static let gated = FusionKind(GatedFusion())
}
