import Foundation
import MMTensor

/// Combines the encoders' pooled vectors p_m (B, P_m), m = 0..<M, into one vector per sample (B, F_out).
///
///     concat     [p_0 | p_1 | ...]                                            F_out = Σ P_m   (early, late)
///     attention  tok_m = W_m p_m + b_m (F);  q, k, v = Linear(F, F)(tok);
///                o_i = Σ_j softmax_j(q_i·k_j / √F) v_j over present j;  mean of o_i over present i   F_out = F
///     tensor     z_m = [W_m p_m + b_m, 1] (F+1);  z_0 ⊗ z_1 ⊗ ... flattened, z_0 slowest    F_out = (F+1)^M
///
/// "Present" means the sample's length for that modality is > 0: an absent modality's token is masked out of
/// attention (as keys and in the mean); a sample with none present fuses to zeros. Late and tensor fusion
/// see an absent modality as a zero pooled vector (its encoder pools to zeros).
/// Parameters, as PyTorch modules: `fusion.proj.<modality>` = nn.Linear(P_m, F) (attention, tensor),
/// `fusion.query`, `fusion.key`, `fusion.value` = nn.Linear(F, F) (attention).
/// Legend: B = batch, M = modalities, P_m = pooled size of encoder m, F = fusion size.
final class FusionLayer {
  static func parameterSpecs(_ kind: FusionKind, names: [String], pooled P: [Int], size F: Int) -> [ParameterSpec] {
    var specs: [ParameterSpec] = []
    guard kind == .attention || kind == .tensor else { return specs }
    for (name, p) in zip(names, P) {
      let bound = 1 / Double(p).squareRoot()
      specs += [.init("fusion.proj.\(name).weight", [F, p], bound: bound), .init("fusion.proj.\(name).bias", [F], bound: bound)]
    }
    if kind == .attention {
      let bound = 1 / Double(F).squareRoot()
      for part in ["query", "key", "value"] {
        specs += [.init("fusion.\(part).weight", [F, F], bound: bound), .init("fusion.\(part).bias", [F], bound: bound)]
      }
    }
    return specs
  }

  static func outputSize(_ kind: FusionKind, pooled P: [Int], size F: Int) -> Int {
    switch kind {
    case .early, .late: return P.reduce(0, +)
    case .attention: return F
    case .tensor: return P.reduce(1) { r, _ in r * (F + 1) }
    }
  }

  let kind: FusionKind
  let pooled: [Int], size: Int, outputSize: Int
  let M: Int
  let projW, projB, projGW, projGB: [UnsafeMutablePointer<Float>]   // per modality (F, P_m) (F)
  let qkvW, qkvB, qkvGW, qkvGB: [UnsafeMutablePointer<Float>]       // query, key, value (F, F) (F)

  let out: Buffer       // (B, F_out)
  let tok: Buffer       // (B, M, Fz)  projected tokens; tensor: Fz = F + 1 with the appended 1
  let qkv: Buffer       // (3, B, M, F) q, k, v
  let att: Buffer       // (B, M, M)    softmax weights (0 for masked keys)
  let dTok: Buffer      // (B, M, Fz)
  let dQKV: Buffer      // (3, B, M, F)
  let present: UnsafeMutablePointer<Bool>   // (B, M)
  var batch = 0
  var inputs: [UnsafePointer<Float>] = []

  init(_ kind: FusionKind, names: [String], pooled P: [Int], size F: Int, arena: ParameterArena, maxBatch B: Int) {
    self.kind = kind; pooled = P; size = F; M = P.count
    outputSize = FusionLayer.outputSize(kind, pooled: P, size: F)
    let projected = kind == .attention || kind == .tensor
    projW = projected ? names.map { arena.value("fusion.proj.\($0).weight") } : []
    projB = projected ? names.map { arena.value("fusion.proj.\($0).bias") } : []
    projGW = projected ? names.map { arena.grad("fusion.proj.\($0).weight") } : []
    projGB = projected ? names.map { arena.grad("fusion.proj.\($0).bias") } : []
    let parts = kind == .attention ? ["query", "key", "value"] : []
    qkvW = parts.map { arena.value("fusion.\($0).weight") }; qkvB = parts.map { arena.value("fusion.\($0).bias") }
    qkvGW = parts.map { arena.grad("fusion.\($0).weight") }; qkvGB = parts.map { arena.grad("fusion.\($0).bias") }
    let Fz = kind == .tensor ? F + 1 : F
    out = Buffer(count: B * outputSize)
    tok = Buffer(count: projected ? B * M * Fz : 0); dTok = Buffer(count: projected ? B * M * Fz : 0)
    qkv = Buffer(count: kind == .attention ? 3 * B * M * F : 0); dQKV = Buffer(count: kind == .attention ? 3 * B * M * F : 0)
    att = Buffer(count: kind == .attention ? B * M * M : 0)
    present = .allocate(capacity: B * M); present.initialize(repeating: true, count: B * M)
    inputs.reserveCapacity(M)
  }

  deinit { present.deallocate() }

  /// pooled p_m (B, P_m) each; lengths (M, B) per-modality valid steps (nil: all present). Returns (B, F_out).
  func forward(_ p: [UnsafePointer<Float>], lengths: UnsafePointer<Int32>?, batch B: Int) -> UnsafePointer<Float> {
    batch = B
    inputs.removeAll(keepingCapacity: true); inputs.append(contentsOf: p)
    for m in 0..<M { for b in 0..<B { present[b * M + m] = lengths.map { $0[m * B + b] > 0 } ?? true } }
    let o = out.pointer, F = size, Fo = outputSize
    switch kind {
    case .early, .late:
      var col = 0
      for m in 0..<M {
        for b in 0..<B { (o + b * Fo + col).update(from: p[m] + b * pooled[m], count: pooled[m]) }
        col += pooled[m]
      }
    case .attention:
      project(p, B: B, stride: F)
      let t = tok.pointer, q = qkv.pointer, k = q + B * M * F, v = k + B * M * F, a = att.pointer
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
          for j in 0..<M { if present[b * M + j] { row[j] = Activations.exp(row[j] - mx); sum += row[j] } else { row[j] = 0 } }
          for j in 0..<M { row[j] /= sum }
          guard present[b * M + i] else { continue }   // only present tokens enter the mean
          let ob = o + b * F, w = 1 / Float(count)
          for j in 0..<M where row[j] != 0 {
            let vj = v + (b * M + j) * F, c = row[j] * w
            for f in 0..<F { ob[f] += c * vj[f] }
          }
        }
      }
    case .tensor:
      project(p, B: B, stride: F + 1)
      let t = tok.pointer, Fz = F + 1
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
    }
    return UnsafePointer(o)
  }

  /// tok[:, m, :F] (B, F) = p_m (B, P_m) · W_mᵀ + b_m, rows `stride` apart within a sample's M tokens.
  private func project(_ p: [UnsafePointer<Float>], B: Int, stride Fz: Int) {
    let t = tok.pointer, F = size
    for m in 0..<M {
      BLAS.gemm(transB: true, m: B, n: F, k: pooled[m], a: p[m], lda: pooled[m], b: projW[m], ldb: pooled[m], beta: 0,
                c: t + m * Fz, ldc: M * Fz)
      for b in 0..<B { let r = t + (b * M + m) * Fz; for j in 0..<F { r[j] += projB[m][j] } }
    }
  }

  /// dOut (B, F_out) -> dPooled_m (B, P_m) (overwritten); accumulates parameter gradients.
  func backward(_ dOut: UnsafePointer<Float>, dPooled: [UnsafeMutablePointer<Float>]) {
    let B = batch, F = size, Fo = outputSize
    switch kind {
    case .early, .late:
      var col = 0
      for m in 0..<M {
        for b in 0..<B { (dPooled[m] + b * pooled[m]).update(from: dOut + b * Fo + col, count: pooled[m]) }
        col += pooled[m]
      }
    case .attention:
      let t = tok.pointer, q = qkv.pointer, k = q + B * M * F, v = k + B * M * F, a = att.pointer
      let dt = dTok.pointer, dq = dQKV.pointer, dk = dq + B * M * F, dv = dk + B * M * F
      dQKV.zero()
      let scale = 1 / Float(F).squareRoot()
      for b in 0..<B {
        let count = (0..<M).reduce(0) { $0 + (present[b * M + $1] ? 1 : 0) }
        guard count > 0 else { continue }
        let dob = dOut + b * F, w = 1 / Float(count)
        for i in 0..<M where present[b * M + i] {
          let row = a + (b * M + i) * M
          // o_i = Σ_j α_ij v_j with dO_i = dOut / count:  dv_j += α_ij dO_i;  dα_ij = dO_i · v_j
          var dotSum: Float = 0   // Σ_j α_ij dα_ij
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
            let ds = row[j] * (da - dotSum) * scale      // s_ij = q_i·k_j / √F, α = softmax_j(s)
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
      unproject(dPooled, B: B, stride: F)
    case .tensor:
      let t = tok.pointer, dt = dTok.pointer, Fz = F + 1
      dTok.zero()
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
      unproject(dPooled, B: B, stride: Fz)
    }
  }

  /// From dTok[:, m, :F] back through tok_m = W_m p_m + b_m: parameter gradients and dPooled_m (overwritten).
  private func unproject(_ dPooled: [UnsafeMutablePointer<Float>], B: Int, stride Fz: Int) {
    let dt = dTok.pointer, F = size
    for m in 0..<M {
      let P = pooled[m]
      // W_m (F, P) += dTok_mᵀ (F, B) · p_m (B, P);  b_m += Σ_b dTok_m;  dp_m (B, P) = dTok_m (B, F) · W_m (F, P)
      BLAS.gemm(transA: true, m: F, n: P, k: B, a: dt + m * Fz, lda: M * Fz, b: inputs[m], ldb: P, beta: 1, c: projGW[m], ldc: P)
      for b in 0..<B { let r = dt + (b * M + m) * Fz; for j in 0..<F { projGB[m][j] += r[j] } }
      BLAS.gemm(m: B, n: P, k: F, a: dt + m * Fz, lda: M * Fz, b: projW[m], ldb: P, beta: 0, c: dPooled[m], ldc: P)
    }
  }
}
