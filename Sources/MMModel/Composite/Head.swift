import MMTensor

/// The output head, on the fused vector (B, In), an MLP with `model.head_hidden` = [W_1, ..., W_n]:
///
///     []          logits = x Wᵀ + b                       `head` = nn.Linear(In, C)
///     [W_1, ...]  a_0 = x;  a_j = relu(a_{j-1} W_{j-1}ᵀ + b_{j-1}), j = 1...n;  logits = a_n W_nᵀ + b_n
///                 `head` = nn.Sequential(nn.Linear(In, W_1), nn.ReLU(), ..., nn.Linear(W_n, C)): the Linear
///                 layers are `head.0`, `head.2`, ..., `head.2n`
///
/// Legend: B = batch (rows: samples, or sample-steps for a per-step target), In = fused size, W_j = hidden
/// widths, C = outputs.
final class Head {
  /// The state_dict name of Linear j of a head with `hidden` widths.
  static func linearName(_ j: Int, hidden: [Int]) -> String { hidden.isEmpty ? "head." : "head.\(2 * j)." }

  static func parameterSpecs(input In: Int, hidden: [Int], outputs C: Int) -> [ParameterSpec] {
    let sizes = [In] + hidden + [C]
    return (0...hidden.count).flatMap { j -> [ParameterSpec] in
      let name = linearName(j, hidden: hidden), bound = 1 / Double(sizes[j]).squareRoot()
      return [
        .init(name + "weight", [sizes[j + 1], sizes[j]], bound: bound),
        .init(name + "bias", [sizes[j + 1]], bound: bound),
      ]
    }
  }

  let sizes: [Int]  // [In, W_1, ..., W_n, C]
  let outputs: Int  // C (stored: `sizes.last` allocates in an unoptimised build)
  let w, b, gW, gB: [UnsafeMutablePointer<Float>]  // Linear j: (sizes[j+1], sizes[j]) (sizes[j+1])
  let acts: [Buffer]  // a_j (B, W_j), j = 1...n: relu outputs (acts[j-1])
  let dA, dB: Buffer  // (B, max W_j) backward scratch
  let logits: Buffer  // (B, C)
  var input: UnsafePointer<Float>? = nil  // the last forward's x

  init(arena: ParameterArena, input In: Int, hidden: [Int], outputs C: Int, maxBatch B: Int) {
    sizes = [In] + hidden + [C]
    outputs = C
    let names = (0...hidden.count).map { Self.linearName($0, hidden: hidden) }
    w = names.map { arena.value($0 + "weight") }; b = names.map { arena.value($0 + "bias") }
    gW = names.map { arena.grad($0 + "weight") }; gB = names.map { arena.grad($0 + "bias") }
    acts = hidden.map { Buffer(count: B * $0) }
    let widest = hidden.max() ?? 0
    dA = Buffer(count: B * widest); dB = Buffer(count: B * widest)
    logits = Buffer(count: B * C)
  }

  /// x (B, In) -> logits (B, C).
  func forward(_ x: UnsafePointer<Float>, batch B: Int) -> UnsafePointer<Float> {
    input = x
    var a = x
    for j in 0..<acts.count {  // a_{j+1} = relu(a_j W_jᵀ + b_j)
      let out = acts[j].pointer, n = sizes[j + 1]
      linear(a, B: B, n: n, k: sizes[j], w: w[j], b: b[j], out: out)
      for i in 0..<(B * n) { out[i] = max(out[i], 0) }
      a = UnsafePointer(out)
    }
    let last = acts.count
    linear(a, B: B, n: outputs, k: sizes[last], w: w[last], b: b[last], out: logits.pointer)
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

  /// dlogits (B, C) of the last forward -> dx (B, In) (overwritten); accumulates gradients.
  func backward(_ dlogits: UnsafePointer<Float>, batch B: Int, dx: UnsafeMutablePointer<Float>) {
    var dy = dlogits
    var scratch = (dA.pointer, dB.pointer)
    for j in stride(from: acts.count, through: 0, by: -1) {
      let x = j == 0 ? input! : UnsafePointer(acts[j - 1].pointer)
      let out = j == 0 ? dx : scratch.0
      linearBackward(dy, x: x, B: B, n: sizes[j + 1], k: sizes[j], w: w[j], gW: gW[j], gB: gB[j], dx: out)
      if j > 0 {  // through a_j = relu(·): the gradient passes where a_j > 0
        let a = acts[j - 1].pointer
        for i in 0..<(B * sizes[j]) where a[i] <= 0 { out[i] = 0 }
        dy = UnsafePointer(out)
        scratch = (scratch.1, scratch.0)
      }
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
