import MMTensor

/// `attention`: u_t = tanh(W h_t + b) (A);  e_t = vᵀ u_t;  α = softmax_{t<L}(e);  Σ_{t<L} α_t h_t.
/// Parameters, as PyTorch modules: `<prefix>pool.proj` = nn.Linear(Hs, A) (weight (A, Hs), bias (A)),
/// `<prefix>pool.score` = nn.Linear(A, 1, bias=False) (weight (1, A)).
struct AttentionPooling: PoolingMethod {
  var name: String { "attention" }

  func parameterSpecs(prefix: String, size Hs: Int, attention A: Int) -> [ParameterSpec] {
    let bound = 1 / Double(Hs).squareRoot()
    return [
      .init("\(prefix)pool.proj.weight", [A, Hs], bound: bound), .init("\(prefix)pool.proj.bias", [A], bound: bound),
      .init("\(prefix)pool.score.weight", [1, A], bound: 1 / Double(A).squareRoot()),
    ]
  }

  func makeLayer(
    arena: ParameterArena, prefix: String, size Hs: Int, bidirectional: Bool, attention A: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> any PoolingLayer {
    Layer(arena: arena, prefix: prefix, size: Hs, attention: A, maxSteps: T, maxBatch: B)
  }

  final class Layer: PoolingLayer {
    let size: Int, attention: Int
    let w, bias, v, gW, gB, gV: UnsafeMutablePointer<Float>  // (A, Hs) (A) (A) and their gradients
    // Forward caches.
    let u: Buffer  // (T, B, A)  tanh(W h_t + b)
    let alpha: Buffer  // (T, B)     attention weights, 0 past L
    let dPre: Buffer  // (T, B, A)  backward scratch

    init(arena: ParameterArena, prefix: String, size Hs: Int, attention A: Int, maxSteps T: Int, maxBatch B: Int) {
      size = Hs; attention = A
      w = arena.value("\(prefix)pool.proj.weight"); bias = arena.value("\(prefix)pool.proj.bias");
      v = arena.value("\(prefix)pool.score.weight")
      gW = arena.grad("\(prefix)pool.proj.weight"); gB = arena.grad("\(prefix)pool.proj.bias");
      gV = arena.grad("\(prefix)pool.score.weight")
      u = Buffer(count: T * B * A)
      dPre = Buffer(count: T * B * A)
      alpha = Buffer(count: T * B)
    }

    func forward(
      _ seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
      out: UnsafeMutablePointer<Float>
    ) {
      let Hs = size, A = attention, up = u.pointer, ap = alpha.pointer
      // u (T*B, A) = tanh(seq (T*B, Hs) · Wᵀ (Hs, A) + b)
      BLAS.gemm(transB: true, m: T * B, n: A, k: Hs, a: seq, lda: Hs, b: w, ldb: Hs, beta: 0, c: up, ldc: A)
      for r in 0..<(T * B) { let row = up + r * A; for j in 0..<A { row[j] += bias[j] }; Activations.tanh(row, A) }
      ap.update(repeating: 0, count: T * B)
      for b in 0..<B where lengths[b] > 0 {
        let L = Int(lengths[b])
        var mx = -Float.infinity
        for t in 0..<L {
          let row = up + (t * B + b) * A
          var e: Float = 0
          for j in 0..<A { e += v[j] * row[j] }  // e_t = vᵀ u_t
          ap[t * B + b] = e
          mx = max(mx, e)
        }
        var sum: Float = 0
        for t in 0..<L { let a = Activations.exp(ap[t * B + b] - mx); ap[t * B + b] = a; sum += a }
        let o = out + b * Hs
        for t in 0..<L {
          let a = ap[t * B + b] / sum
          ap[t * B + b] = a
          let s = seq + (t * B + b) * Hs
          for j in 0..<Hs { o[j] += a * s[j] }  // Σ α_t h_t
        }
      }
    }

    func backward(
      _ dOut: UnsafePointer<Float>, seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int,
      batch B: Int,
      dSeq: UnsafeMutablePointer<Float>
    ) {
      let Hs = size, A = attention, up = u.pointer, ap = alpha.pointer, dp = dPre.pointer
      dp.update(repeating: 0, count: T * B * A)
      for b in 0..<B where lengths[b] > 0 {
        let L = Int(lengths[b]), d = dOut + b * Hs
        // dα_t = dOut · h_t;  de_t = α_t (dα_t - Σ_s α_s dα_s)
        var dotSum: Float = 0
        for t in 0..<L {
          let s = seq + (t * B + b) * Hs, a = ap[t * B + b]
          var da: Float = 0
          for j in 0..<Hs { da += d[j] * s[j] }
          dp[(t * B + b) * A] = da  // park dα_t in the first slot until dPre is written below
          dotSum += a * da
        }
        for t in 0..<L {
          let a = ap[t * B + b], row = up + (t * B + b) * A, dpre = dp + (t * B + b) * A
          let de = a * (dpre[0] - dotSum)
          for j in 0..<A {
            gV[j] += de * row[j]  // e_t = vᵀ u_t
            dpre[j] = de * v[j] * (1 - row[j] * row[j])  // u_t = tanh(W h_t + b)
          }
          let ds = dSeq + (t * B + b) * Hs
          for j in 0..<Hs { ds[j] = a * d[j] }  // pooled = Σ α_t h_t
        }
      }
      // W (A, Hs) += dPreᵀ (A, T*B) · seq (T*B, Hs);  b += Σ dPre;  dSeq (T*B, Hs) += dPre (T*B, A) · W (A, Hs)
      BLAS.gemm(transA: true, m: A, n: Hs, k: T * B, a: dp, lda: A, b: seq, ldb: Hs, beta: 1, c: gW, ldc: Hs)
      for r in 0..<(T * B) { let row = dp + r * A; for j in 0..<A { gB[j] += row[j] } }
      BLAS.gemm(m: T * B, n: Hs, k: A, a: dp, lda: A, b: w, ldb: Hs, beta: 1, c: dSeq, ldc: Hs)
    }
  }
}

extension PoolingKind {
  public static let attention = PoolingKind(AttentionPooling())
}
