import MMTensor

/// `model.encoders.<m>: {kind: mlp, widths: [W_1, ..., W_n]}`, the encoder of a static vector [N, D] (one step
/// of D features in the fused batch): Linear + ReLU per width, as `encoders.<m>.mlp` = nn.Sequential(
/// nn.Linear(D, W_1), nn.ReLU(), ...). `widths: []` passes the vector through (no tensors). A sample whose
/// modality is absent (length 0: modality dropout) gives zeros, as a recurrent encoder's pooling does.
///
///     x[0, :, column ..< column+D]  (B, D)  -> mlp -> (B, W_n)      (W_n = D when widths is [])
final class MLPEncoder: ModalityEncoder {
  static func parameterSpecs(_ e: EncoderSpec, widths: [Int]) -> [ParameterSpec] {
    widths.isEmpty
      ? [] : Perceptron.parameterSpecs(prefix: e.prefix + "mlp.", sizes: [e.features] + widths, indexed: true)
  }

  let spec: EncoderSpec
  let outputSize: Int
  let mlp: Perceptron?  // nil: pass-through
  let gradientBuckets: [Range<Int>]
  let input: Buffer  // (B, D) the vector, gathered from the fused batch's columns
  let out: Buffer  // (B, outputSize) with absent samples zeroed
  let dPooled: Buffer  // (B, outputSize)
  let dx: Buffer?  // (1, B, D)
  let presence: Presence
  var batch = 0
  var poll: (() -> Void)? = nil

  init(_ spec: EncoderSpec, widths: [Int], arena: ParameterArena, maxBatch B: Int, inputGradient: Bool) {
    self.spec = spec
    let D = spec.features
    outputSize = widths.last ?? D
    mlp =
      widths.isEmpty
      ? nil
      : Perceptron(
        arena: arena, prefix: spec.prefix + "mlp.", sizes: [D] + widths, indexed: true, reluLast: true, maxRows: B)
    let mine = arena.span { $0.name.hasPrefix(spec.prefix) }
    gradientBuckets = [mine]
    input = Buffer(count: B * D); out = Buffer(count: B * outputSize); dPooled = Buffer(count: B * outputSize)
    dx = inputGradient ? Buffer(count: B * D) : nil
    presence = Presence(maxBatch: B)
  }

  /// x (1, B, ldx) at the modality's first column -> (B, outputSize).
  func forward(
    _ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, batch B: Int,
    samples: UnsafePointer<Int>, training: TrainingContext?
  ) -> UnsafePointer<Float> {
    let D = spec.features, P = outputSize
    batch = B
    for b in 0..<B { (input.pointer + b * D).update(from: x + b * ldx, count: D) }
    let y = mlp?.forward(UnsafePointer(input.pointer), rows: B) ?? UnsafePointer(input.pointer)
    presence.forward(y, lengths: lengths, batch: B, width: P, into: out.pointer)
    return UnsafePointer(out.pointer)
  }

  func backward(ready: (Int) -> Void) {
    let B = batch, P = outputSize, D = spec.features, d = dPooled.pointer
    presence.mask(d, batch: B, width: P)
    if let mlp {
      mlp.backward(d, rows: B, dx: dx?.pointer)
    } else if let dx {
      dx.pointer.update(from: d, count: B * D)
    }
    ready(0)
  }
}
