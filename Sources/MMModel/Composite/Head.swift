import MMTensor

/// The output head, on the fused vector (B, In):
///
///     hidden 0   logits = x Wᵀ + b                                  `head` = nn.Linear(In, C)
///     hidden Hh  logits = relu(x W0ᵀ + b0) W2ᵀ + b2                 `head` = nn.Sequential(nn.Linear(In, Hh), nn.ReLU(), nn.Linear(Hh, C))
///
/// Legend: B = batch, In = fused size, Hh = head hidden width, C = outputs.
final class Head {
  static func parameterSpecs(input In: Int, hidden Hh: Int, outputs C: Int) -> [ParameterSpec] {
    if Hh == 0 {
      let bound = 1 / Double(In).squareRoot()
      return [.init("head.weight", [C, In], bound: bound), .init("head.bias", [C], bound: bound)]
    }
    let b0 = 1 / Double(In).squareRoot(), b2 = 1 / Double(Hh).squareRoot()
    return [
      .init("head.0.weight", [Hh, In], bound: b0), .init("head.0.bias", [Hh], bound: b0),
      .init("head.2.weight", [C, Hh], bound: b2), .init("head.2.bias", [C], bound: b2),
    ]
  }

  let input: Int, hidden: Int, outputs: Int
  let w0, b0, gW0, gB0: UnsafeMutablePointer<Float>  // (Hh or C, In) (Hh or C)
  let w2, b2, gW2, gB2: UnsafeMutablePointer<Float>?  // (C, Hh) (C)  MLP only
  let act: Buffer  // (B, Hh) relu output
  let dAct: Buffer  // (B, Hh)
  let logits: Buffer  // (B, C)

  init(arena: ParameterArena, input In: Int, hidden Hh: Int, outputs C: Int, maxBatch B: Int) {
    input = In; hidden = Hh; outputs = C
    let first = Hh == 0 ? "head." : "head.0."
    w0 = arena.value(first + "weight"); b0 = arena.value(first + "bias")
    gW0 = arena.grad(first + "weight"); gB0 = arena.grad(first + "bias")
    if Hh > 0 {
      w2 = arena.value("head.2.weight"); b2 = arena.value("head.2.bias"); gW2 = arena.grad("head.2.weight");
      gB2 = arena.grad("head.2.bias")
    } else {
      (w2, b2, gW2, gB2) = (nil, nil, nil, nil)
    }
    act = Buffer(count: B * Hh); dAct = Buffer(count: B * Hh)
    logits = Buffer(count: B * C)
  }

  /// x (B, In) -> logits (B, C).
  func forward(_ x: UnsafePointer<Float>, batch B: Int) -> UnsafePointer<Float> {
    let In = input, C = outputs
    if hidden == 0 {
      linear(x, B: B, n: C, k: In, w: w0, b: b0, out: logits.pointer)
    } else {
      let Hh = hidden, a = act.pointer
      linear(x, B: B, n: Hh, k: In, w: w0, b: b0, out: a)
      for i in 0..<(B * Hh) { a[i] = max(a[i], 0) }
      linear(a, B: B, n: C, k: Hh, w: w2!, b: b2!, out: logits.pointer)
    }
    return UnsafePointer(logits.pointer)
  }

  /// out (B, n) = x (B, k) · Wᵀ (k, n) + b
  private func linear(
    _ x: UnsafePointer<Float>, B: Int, n: Int, k: Int, w: UnsafePointer<Float>, b: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>
  ) {
    BLAS.gemm(transB: true, m: B, n: n, k: k, a: x, lda: k, b: w, ldb: k, beta: 0, c: out, ldc: n)
    for r in 0..<B { for j in 0..<n { out[r * n + j] += b[j] } }
  }

  /// dlogits (B, C), x the forward input (B, In) -> dx (B, In) (overwritten); accumulates gradients.
  func backward(
    _ dlogits: UnsafePointer<Float>, input x: UnsafePointer<Float>, batch B: Int, dx: UnsafeMutablePointer<Float>
  ) {
    let In = input, C = outputs
    if hidden == 0 {
      linearBackward(dlogits, x: x, B: B, n: C, k: In, w: w0, gW: gW0, gB: gB0, dx: dx)
    } else {
      let Hh = hidden, a = act.pointer, da = dAct.pointer
      linearBackward(dlogits, x: a, B: B, n: C, k: Hh, w: w2!, gW: gW2!, gB: gB2!, dx: da)
      for i in 0..<(B * Hh) where a[i] <= 0 { da[i] = 0 }  // relu
      linearBackward(da, x: x, B: B, n: Hh, k: In, w: w0, gW: gW0, gB: gB0, dx: dx)
    }
  }

  /// W (n, k) += dyᵀ (n, B) · x (B, k);  b += Σ_B dy;  dx (B, k) = dy (B, n) · W (n, k)
  private func linearBackward(
    _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, B: Int, n: Int, k: Int, w: UnsafePointer<Float>,
    gW: UnsafeMutablePointer<Float>, gB: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
  ) {
    BLAS.gemm(transA: true, m: n, n: k, k: B, a: dy, lda: n, b: x, ldb: k, beta: 1, c: gW, ldc: k)
    for r in 0..<B { for j in 0..<n { gB[j] += dy[r * n + j] } }
    BLAS.gemm(m: B, n: k, k: n, a: dy, lda: n, b: w, ldb: k, beta: 0, c: dx, ldc: k)
  }
}
