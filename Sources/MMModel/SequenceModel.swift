import MMTensor

/// Early fusion: the modalities are concatenated per step into one sequence (T, B, D), run through a
/// stack of LSTM layers, and the hidden state at each sample's last valid step goes through a linear head.
/// The equivalent PyTorch module (its state_dict keys are this arena's tensor names):
///
///     class EarlyFusionLSTM(nn.Module):
///         def __init__(self, D, H, layers, C):
///             super().__init__()
///             self.fusion = nn.Module()
///             self.fusion.lstm = nn.LSTM(D, H, num_layers=layers, batch_first=True)
///             self.head = nn.Linear(H, C)
///         def forward(self, x, lengths):                       # x (B, T, D), lengths (B,) in 1..T
///             out, _ = self.fusion.lstm(x)                     # (B, T, H)
///             return self.head(out[torch.arange(len(x)), lengths - 1])
///
/// Legend: T = steps, B = batch (<= maxBatch), D = fused features, H = hidden, C = outputs.
public final class SequenceModel {
  public struct Shape: Equatable, Sendable {
    public var inputSize: Int, hidden: Int, layers: Int, outputs: Int
    public init(inputSize: Int, hidden: Int, layers: Int, outputs: Int) {
      self.inputSize = inputSize; self.hidden = hidden; self.layers = layers; self.outputs = outputs
    }
  }

  public static func parameterSpecs(_ s: Shape) -> [(name: String, shape: [Int])] {
    var specs: [(name: String, shape: [Int])] = []
    for k in 0..<s.layers {
      specs += LSTMLayer.parameterSpecs(prefix: "fusion.lstm.", layer: k, input: k == 0 ? s.inputSize : s.hidden, hidden: s.hidden)
    }
    specs += [("head.weight", [s.outputs, s.hidden]), ("head.bias", [s.outputs])]
    return specs
  }

  public let shape: Shape
  public let maxSteps: Int, maxBatch: Int
  public let arena: ParameterArena
  public let layers: [RecurrentLayer]
  let headW, headB, headGW, headGB: UnsafeMutablePointer<Float>  // (C, H) (C) and their gradients

  // Forward caches and backward scratch, allocated once.
  var inputs: [UnsafePointer<Float>] = []
  var lengths: UnsafePointer<Int32>? = nil
  var steps = 0, batch = 0
  let last: Buffer        // (B, H) hidden state at each sample's last valid step
  public let logits: Buffer  // (B, C)
  public let dlogits: Buffer // (B, C)
  let dLast: Buffer       // (B, H)
  let dSeqA: Buffer       // (T, B, H) gradient w.r.t. a layer's output
  let dSeqB: Buffer       // (T, B, H) gradient w.r.t. a layer's input (for layers above the first)

  public init(_ shape: Shape, maxSteps: Int, maxBatch: Int) {
    self.shape = shape; self.maxSteps = maxSteps; self.maxBatch = maxBatch
    arena = ParameterArena(SequenceModel.parameterSpecs(shape))
    var layers: [RecurrentLayer] = []
    for k in 0..<shape.layers {
      layers.append(LSTMLayer(
        arena: arena, prefix: "fusion.lstm.", layer: k, input: k == 0 ? shape.inputSize : shape.hidden,
        hidden: shape.hidden, maxSteps: maxSteps, maxBatch: maxBatch))
    }
    self.layers = layers
    headW = arena.value("head.weight"); headB = arena.value("head.bias")
    headGW = arena.grad("head.weight"); headGB = arena.grad("head.bias")
    let H = shape.hidden, C = shape.outputs
    last = Buffer(count: maxBatch * H)
    logits = Buffer(count: maxBatch * C)
    dlogits = Buffer(count: maxBatch * C)
    dLast = Buffer(count: maxBatch * H)
    dSeqA = Buffer(count: maxSteps * maxBatch * H)
    dSeqB = Buffer(count: maxSteps * maxBatch * H)
    inputs.reserveCapacity(shape.layers)
  }

  /// PyTorch's default initialisation: every LSTM and Linear tensor ~ U(-1/sqrt(H), 1/sqrt(H))
  /// (for the head, fan_in = H too). Deterministic for a seed.
  public func initialize(seed: UInt64) {
    var rng = RNG(seed: seed, stream: 1)
    let bound = 1 / Double(shape.hidden).squareRoot()
    for i in 0..<arena.count { arena.values[i] = Float(rng.uniform(-bound, bound)) }
  }

  /// x (T, B, D), lengths (B) with values in 1...T. Returns logits (B, C).
  @discardableResult
  public func forward(_ x: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int) -> UnsafePointer<Float> {
    precondition(T <= maxSteps && B <= maxBatch)
    steps = T; batch = B; self.lengths = lengths
    inputs.removeAll(keepingCapacity: true)
    var h = x
    for layer in layers {
      inputs.append(h)
      h = layer.forward(h, steps: T, batch: B)
    }
    // last (B, H) = out[lengths[b] - 1, b, :]
    let H = shape.hidden, C = shape.outputs
    for b in 0..<B {
      let t = Int(lengths[b]) - 1
      (last.pointer + b * H).update(from: h + (t * B + b) * H, count: H)
    }
    // logits (B, C) = last (B, H) · head.weightᵀ (H, C) + head.bias
    BLAS.gemm(transB: true, m: B, n: C, k: H, a: last.pointer, lda: H, b: headW, ldb: H, beta: 0, c: logits.pointer, ldc: C)
    for b in 0..<B { for k in 0..<C { logits[b * C + k] += headB[k] } }
    return UnsafePointer(logits.pointer)
  }

  /// Back-propagates `dlogits` (B, C) through the last forward; accumulates into `arena.grads`.
  public func backward() {
    let T = steps, B = batch, H = shape.hidden, C = shape.outputs
    guard B > 0, let lengths else { return }
    // head.weight (C, H) += dlogitsᵀ (C, B) · last (B, H);  head.bias (C) += Σ_b dlogits
    BLAS.gemm(transA: true, m: C, n: H, k: B, a: dlogits.pointer, lda: C, b: last.pointer, ldb: H, beta: 1, c: headGW, ldc: H)
    for b in 0..<B { for k in 0..<C { headGB[k] += dlogits[b * C + k] } }
    // dLast (B, H) = dlogits (B, C) · head.weight (C, H)
    BLAS.gemm(m: B, n: H, k: C, a: dlogits.pointer, lda: C, b: headW, ldb: H, beta: 0, c: dLast.pointer, ldc: H)
    // The top layer's output gradient is non-zero only at each sample's last valid step.
    var dOut = dSeqA.pointer, dIn = dSeqB.pointer
    dOut.update(repeating: 0, count: T * B * H)
    for b in 0..<B {
      let t = Int(lengths[b]) - 1
      (dOut + (t * B + b) * H).update(from: dLast.pointer + b * H, count: H)
    }
    for k in stride(from: layers.count - 1, through: 0, by: -1) {
      layers[k].backward(dOut, input: inputs[k], dx: k > 0 ? dIn : nil, steps: T, batch: B)
      swap(&dOut, &dIn)
    }
  }
}
