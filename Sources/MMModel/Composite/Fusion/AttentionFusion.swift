import MMTensor

/// `attention`: one-head self-attention over the modalities' projected tokens, then their mean (F_out = F).
///
///     tok_m = W_m p_m + b_m (F);  q, k, v = Linear(F, F)(tok);
///     o_i = Σ_j softmax_j(q_i·k_j / √F) v_j over present j;  mean of o_i over present i
///
/// "Present" means the sample's length for that modality is > 0: an absent modality's token is masked out
/// (as a key and in the mean); a sample with none present fuses to zeros.
/// Tensors, as PyTorch modules: `fusion.proj.<modality>` = nn.Linear(P_m, F), then `fusion.query`,
/// `fusion.key`, `fusion.value` = nn.Linear(F, F). `model.fusion_size` defaults to the largest P_m.
struct AttentionFusion: FusionMethod {
  var name: String { "attention" }
  var concatenatesSteps: Bool { false }
  var defaultHeadHidden: Int { 64 }
  func defaultSize(pooled P: [Int]) -> Int { P.max()! }
  func outputSize(pooled P: [Int], size F: Int) -> Int { F }
  func summary(pooled P: [Int], size F: Int) -> String { "attention \(F)" }

  func parameterSpecs(names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] {
    let bound = 1 / Double(F).squareRoot()
    return ModalityProjections.parameterSpecs(names: names, pooled: P, size: F)
      + ["query", "key", "value"].flatMap { part in
        [
          ParameterSpec("fusion.\(part).weight", [F, F], bound: bound),
          ParameterSpec("fusion.\(part).bias", [F], bound: bound),
        ]
      }
  }

  func makeLayer(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int)
    -> any FusionLayer
  {
    Layer(names: names, pooled: P, size: F, arena: arena, maxBatch: B)
  }

  final class Layer: FusionLayer {
    let size: Int, M: Int
    var outputSize: Int { size }
    let projections: ModalityProjections
    let qkvW, qkvB, qkvGW, qkvGB: [UnsafeMutablePointer<Float>]  // query, key, value (F, F) (F)
    let out: Buffer  // (B, F)
    let qkv: Buffer  // (3, B, M, F) q, k, v
    let att: Buffer  // (B, M, M)    softmax weights (0 for masked keys)
    let dQKV: Buffer  // (3, B, M, F)
    let present: UnsafeMutablePointer<Bool>  // (B, M)
    var batch = 0

    init(names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int) {
      size = F; M = P.count
      projections = ModalityProjections(names: names, pooled: P, size: F, stride: F, arena: arena, maxBatch: B)
      let parts = ["query", "key", "value"]
      qkvW = parts.map { arena.value("fusion.\($0).weight") }; qkvB = parts.map { arena.value("fusion.\($0).bias") }
      qkvGW = parts.map { arena.grad("fusion.\($0).weight") }; qkvGB = parts.map { arena.grad("fusion.\($0).bias") }
      out = Buffer(count: B * F)
      qkv = Buffer(count: 3 * B * M * F); dQKV = Buffer(count: 3 * B * M * F)
      att = Buffer(count: B * M * M)
      present = .allocate(capacity: B * M); present.initialize(repeating: true, count: B * M)
    }

    deinit { present.deallocate() }

    func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float> {
      batch = B
      for m in 0..<M { for b in 0..<B { present[b * M + m] = lengths.map { $0[m * B + b] > 0 } ?? true } }
      let o = out.pointer, F = size
      projections.project(p, B: B)
      let t = projections.tok.pointer, q = qkv.pointer, k = q + B * M * F, v = k + B * M * F, a = att.pointer
      // q, k, v (B*M, F) = tok (B*M, F) · Wᵀ + b
      for i in 0..<3 {  // q, k, v are consecutive blocks of qkv
        let dst = q + i * B * M * F
        BLAS.gemm(transB: true, m: B * M, n: F, k: F, a: t, lda: F, b: qkvW[i], ldb: F, beta: 0, c: dst, ldc: F)
        for r in 0..<(B * M) { for j in 0..<F { dst[r * F + j] += qkvB[i][j] } }
      }
      let scale = 1 / Float(F).squareRoot()
      o.update(repeating: 0, count: B * F)
      for b in 0..<B {
        let count = (0..<M).reduce(0) { $0 + (present[b * M + $1] ? 1 : 0) }
        guard count > 0 else { (a + b * M * M).update(repeating: 0, count: M * M); continue }
        for i in 0..<M {
          let row = a + (b * M + i) * M, qi = q + (b * M + i) * F
          var mx = -Float.infinity
          for j in 0..<M where present[b * M + j] {
            var s: Float = 0
            let kj = k + (b * M + j) * F
            for c in 0..<F { s += qi[c] * kj[c] }
            row[j] = s * scale
            mx = max(mx, row[j])
          }
          var sum: Float = 0
          for j in 0..<M {
            if present[b * M + j] { row[j] = Activations.exp(row[j] - mx); sum += row[j] } else { row[j] = 0 }
          }
          for j in 0..<M { row[j] /= sum }
          guard present[b * M + i] else { continue }  // only present tokens enter the mean
          let ob = o + b * F, w = 1 / Float(count)
          for j in 0..<M where row[j] != 0 {
            let vj = v + (b * M + j) * F, c = row[j] * w
            for f in 0..<F { ob[f] += c * vj[f] }
          }
        }
      }
      return UnsafePointer(o)
    }

    func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>]) {
      let B = batch, F = size
      let t = projections.tok.pointer, q = qkv.pointer, k = q + B * M * F, v = k + B * M * F, a = att.pointer
      let dt = projections.dTok.pointer, dq = dQKV.pointer, dk = dq + B * M * F, dv = dk + B * M * F
      dQKV.zero()
      let scale = 1 / Float(F).squareRoot()
      for b in 0..<B {
        let count = (0..<M).reduce(0) { $0 + (present[b * M + $1] ? 1 : 0) }
        guard count > 0 else { continue }
        let dob = dOut + b * F, w = 1 / Float(count)
        for i in 0..<M where present[b * M + i] {
          let row = a + (b * M + i) * M
          // o_i = Σ_j α_ij v_j with dO_i = dOut / count:  dv_j += α_ij dO_i;  dα_ij = dO_i · v_j
          var dotSum: Float = 0  // Σ_j α_ij dα_ij
          for j in 0..<M where present[b * M + j] {
            let vj = v + (b * M + j) * F, dvj = dv + (b * M + j) * F
            var da: Float = 0
            for f in 0..<F { da += dob[f] * w * vj[f]; dvj[f] += row[j] * dob[f] * w }
            dotSum += row[j] * da
          }
          let qi = q + (b * M + i) * F, dqi = dq + (b * M + i) * F
          for j in 0..<M where present[b * M + j] {
            let vj = v + (b * M + j) * F
            var da: Float = 0
            for f in 0..<F { da += dob[f] * w * vj[f] }
            let ds = row[j] * (da - dotSum) * scale  // s_ij = q_i·k_j / √F, α = softmax_j(s)
            let kj = k + (b * M + j) * F, dkj = dk + (b * M + j) * F
            for f in 0..<F { dqi[f] += ds * kj[f]; dkj[f] += ds * qi[f] }
          }
        }
      }
      // W (F, F) += dXᵀ (F, B*M) · tok (B*M, F);  b += Σ dX;  dTok (B*M, F) = Σ dX (B*M, F) · W (F, F)
      for i in 0..<3 {  // dq, dk, dv are consecutive blocks of dQKV
        let d = dq + i * B * M * F
        BLAS.gemm(transA: true, m: F, n: F, k: B * M, a: d, lda: F, b: t, ldb: F, beta: 1, c: qkvGW[i], ldc: F)
        for r in 0..<(B * M) { for j in 0..<F { qkvGB[i][j] += d[r * F + j] } }
        BLAS.gemm(m: B * M, n: F, k: F, a: d, lda: F, b: qkvW[i], ldb: F, beta: i == 0 ? 0 : 1, c: dt, ldc: F)
      }
      projections.unproject(dPooled, B: B)
    }
  }
}

extension FusionKind {
  public static let attention = FusionKind(AttentionFusion())
}
