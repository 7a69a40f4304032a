import MMTensor

/// A stack of Linear layers with ReLU between them, over rows (B, In): the output head, and the MLP encoder of
/// a static vector. Sizes [In, W_1, ..., W_n]:
///
///     a_0 = x;  a_j = act_j(a_{j-1} W_{j-1}ᵀ + b_{j-1}), j = 1...n
///     act_j = ReLU, except after the last Linear of a head (logits)
///
/// PyTorch: nn.Sequential(nn.Linear(In, W_1), nn.ReLU(), ...), whose Linear layers are `<prefix>0`,
/// `<prefix>2`, ..., `<prefix>2(n-1)`; a head of one Linear is the nn.Linear itself, `head.`.
///
///     head                  `model.head_hidden` [H_1, ...] -> sizes [F, H_1, ..., C], no ReLU after the last
///     MLP encoder           `model.encoders.<m>: {kind: mlp, widths: [W_1, ...]}` -> sizes [D, W_1, ...], ReLU after each
///
/// Legend: B = rows (samples, or sample-steps for a per-step head), In = input size, W_j = widths, C = outputs.
final class Perceptron {
  /// The state_dict prefix of Linear j: "head." for a one-Linear head, else `prefix` + "2j.".
  static func linearName(_ j: Int, prefix: String, indexed: Bool) -> String {
    indexed ? "\(prefix)\(2 * j)." : prefix
  }

  /// The head: Linear layers to the outputs, ReLU between them; one Linear is `head.` itself.
  static func head(input In: Int, hidden: [Int], outputs C: Int) -> (sizes: [Int], indexed: Bool) {
    ([In] + hidden + [C], !hidden.isEmpty)
  }

  static func parameterSpecs(prefix: String, sizes: [Int], indexed: Bool) -> [ParameterSpec] {
    (0..<(sizes.count - 1)).flatMap { j -> [ParameterSpec] in
      let name = linearName(j, prefix: prefix, indexed: indexed)
      let bound = 1 / Double(sizes[j]).squareRoot()
      return [
        .init(name + "weight", [sizes[j + 1], sizes[j]], bound: bound),
        .init(name + "bias", [sizes[j + 1]], bound: bound),
      ]
    }
  }

  let sizes: [Int]  // [In, W_1, ..., W_n]
  let outputs: Int  // W_n (stored: `sizes.last` allocates in an unoptimised build)
  let reluLast: Bool
  let w, b, gW, gB: [UnsafeMutablePointer<Float>]  // Linear j: (sizes[j+1], sizes[j]) (sizes[j+1])
  let acts: [Buffer]  // a_j (B, W_j), j = 1...n: each Linear's output, after its ReLU where it has one
  let dA, dB: Buffer  // (B, max W_j) backward scratch
  var input: UnsafePointer<Float>? = nil  // the last forward's x

  /// `reluLast`: a ReLU after the last Linear too (the MLP encoder), not for a head's logits.
  init(arena: ParameterArena, prefix: String, sizes: [Int], indexed: Bool, reluLast: Bool, maxRows B: Int) {
    precondition(sizes.count >= 2, "a perceptron needs at least one Linear")
    self.sizes = sizes; self.reluLast = reluLast; outputs = sizes[sizes.count - 1]
    let names = (0..<(sizes.count - 1)).map { Self.linearName($0, prefix: prefix, indexed: indexed) }
    w = names.map { arena.value($0 + "weight") }; b = names.map { arena.value($0 + "bias") }
    gW = names.map { arena.grad($0 + "weight") }; gB = names.map { arena.grad($0 + "bias") }
    acts = sizes.dropFirst().map { Buffer(count: B * $0) }
    let widest = sizes.max()!
    dA = Buffer(count: B * widest); dB = Buffer(count: B * widest)
  }

  /// Whether Linear j is followed by a ReLU.
  @inline(__always) func relu(after j: Int) -> Bool { j < acts.count - 1 || reluLast }

  /// x (B, In) -> (B, W_n), valid until the next forward.
  func forward(_ x: UnsafePointer<Float>, rows B: Int) -> UnsafePointer<Float> {
    input = x
    var a = x
    for j in 0..<acts.count {  // a_{j+1} = act(a_j W_jᵀ + b_j)
      let out = acts[j].pointer, n = sizes[j + 1]
      linear(a, B: B, n: n, k: sizes[j], w: w[j], b: b[j], out: out)
      if relu(after: j) { for i in 0..<(B * n) { out[i] = max(out[i], 0) } }
      a = UnsafePointer(out)
    }
    return a
  }

  /// out (B, n) = x (B, k) · Wᵀ (k, n) + b
  private func linear(
    _ x: UnsafePointer<Float>, B: Int, n: Int, k: Int, w: UnsafePointer<Float>, b: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>
  ) {
    BLAS.gemm(transB: true, m: B, n: n, k: k, a: x, lda: k, b: w, ldb: k, beta: 0, c: out, ldc: n)
    for r in 0..<B { for j in 0..<n { out[r * n + j] += b[j] } }
  }

  /// dy (B, W_n) of the last forward (d loss / d its output; may be overwritten) -> dx (B, In), overwritten
  /// when non-nil; accumulates gradients.
  func backward(_ dy: UnsafeMutablePointer<Float>, rows B: Int, dx: UnsafeMutablePointer<Float>?) {
    var d = dy
    var scratch = (dA.pointer, dB.pointer)
    for j in stride(from: acts.count - 1, through: 0, by: -1) {
      if relu(after: j) {  // through a_{j+1} = relu(·): the gradient passes where a_{j+1} > 0
        let a = acts[j].pointer
        for i in 0..<(B * sizes[j + 1]) where a[i] <= 0 { d[i] = 0 }
      }
      let x = j == 0 ? input! : UnsafePointer(acts[j - 1].pointer)
      let out = j == 0 ? dx : scratch.0
      linearBackward(d, x: x, B: B, n: sizes[j + 1], k: sizes[j], w: w[j], gW: gW[j], gB: gB[j], dx: out)
      if let out, j > 0 {
        d = out
        scratch = (scratch.1, scratch.0)
      }
    }
  }

  /// W (n, k) += dyᵀ (n, B) · x (B, k);  b += Σ_B dy;  dx (B, k) = dy (B, n) · W (n, k) when non-nil
  private func linearBackward(
    _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, B: Int, n: Int, k: Int, w: UnsafePointer<Float>,
    gW: UnsafeMutablePointer<Float>, gB: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?
  ) {
    BLAS.gemm(transA: true, m: n, n: k, k: B, a: dy, lda: n, b: x, ldb: k, beta: 1, c: gW, ldc: k)
    for r in 0..<B { for j in 0..<n { gB[j] += dy[r * n + j] } }
    if let dx { BLAS.gemm(m: B, n: k, k: n, a: dy, lda: n, b: w, ldb: k, beta: 0, c: dx, ldc: k) }
  }
}
