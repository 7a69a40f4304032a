import MMTensor

/// What the model needs of an encoder: it turns its columns of the fused batch (one modality, or all of them
/// for early fusion) into one vector per sample, and back-propagates into its own tensors. Called once per
/// forward and backward. Every encoder today is a RecurrentEncoder (a cell stack and a pooling); an encoder
/// for another kind of modality (convolutions over images, an MLP over static features, an embedding over
/// tokens) is another conformer, chosen for its EncoderSpec in `EncoderSpec.parameterSpecs`, `outputSize`
/// and `make` below, the one place that maps a spec to an encoder.
protocol ModalityEncoder: AnyObject {
  var spec: EncoderSpec { get }
  /// Size of the pooled vector (B, outputSize) that `forward` returns.
  var outputSize: Int { get }
  /// Arena ranges in the order `backward` finishes them (each reported through `ready`); together they tile
  /// the encoder's tensors, which are contiguous in the arena under `spec.prefix`.
  var gradientBuckets: [Range<Int>] { get }
  /// (B, outputSize) d loss / d the pooled vector, written by the fusion before `backward`.
  var dPooled: Buffer { get }
  /// (T, B, D) d loss / d the encoder's input columns after `backward`; only when made with inputGradient.
  var dx: Buffer? { get }
  /// Called between expensive steps of `backward` (RecurrentLayer.poll), so gradient sums already started progress.
  var poll: (() -> Void)? { get set }

  /// x (T, B, ldx) at the encoder's first column; lengths (B) in 0...T. Returns pooled (B, outputSize), zero
  /// for samples of length 0; `samples` and `training` seed dropout.
  func forward(
    _ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, batch B: Int,
    samples: UnsafePointer<Int>, training: TrainingContext?
  ) -> UnsafePointer<Float>
  /// Back-propagates `dPooled` through the last forward, accumulating parameter gradients; `ready(j)` as soon
  /// as `gradientBuckets[j]` is final, j = 0, 1, ... in order.
  func backward(ready: (Int) -> Void)
}

extension EncoderSpec {
  /// The encoder's tensors in state_dict order.
  func parameterSpecs(_ a: Architecture) -> [ParameterSpec] {
    if let conv, !frames { return conv.parameterSpecs(prefix: prefix) }
    if let widths = mlp { return MLPEncoder.parameterSpecs(self, widths: widths) }
    return RecurrentEncoder.parameterSpecs(self, a)
  }
  /// The size of its pooled vector.
  func outputSize(_ a: Architecture) -> Int {
    if let conv, !frames { return conv.outputSize }
    if let widths = mlp { return widths.last ?? features }
    return RecurrentEncoder.outputSize(self, a)
  }
  /// The encoder over the arena; `index` is its position among the model's encoders (it tells dropout sites apart).
  func make(index: Int, model: ModelSpec, arena: ParameterArena, maxBatch B: Int, inputGradient: Bool)
    -> any ModalityEncoder
  {
    if let conv, !frames {
      return ConvEncoder(self, shape: conv, arena: arena, maxBatch: B, inputGradient: inputGradient)
    }
    if let widths = mlp {
      return MLPEncoder(self, widths: widths, arena: arena, maxBatch: B, inputGradient: inputGradient)
    }
    return RecurrentEncoder(self, index: index, model: model, arena: arena, maxBatch: B, inputGradient: inputGradient)
  }
}

/// Which samples of the last forward have the modality (length > 0). The encoders of static vectors and images
/// give an absent one zeros, as a recurrent encoder's pooling does, and drop its gradient.
final class Presence {
  let present: UnsafeMutablePointer<Bool>  // (maxBatch)

  init(maxBatch B: Int) { present = .allocate(capacity: B); present.initialize(repeating: false, count: B) }
  deinit { present.deallocate() }

  /// out (B, P) = y where the sample is present, else 0; remembers which are.
  func forward(
    _ y: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, batch B: Int, width P: Int,
    into out: UnsafeMutablePointer<Float>
  ) {
    for b in 0..<B {
      present[b] = lengths[b] > 0
      if present[b] {
        (out + b * P).update(from: y + b * P, count: P)
      } else {
        (out + b * P).update(repeating: 0, count: P)
      }
    }
  }

  /// d (B, P): zero at the samples the last forward found absent.
  func mask(_ d: UnsafeMutablePointer<Float>, batch B: Int, width P: Int) {
    for b in 0..<B where !present[b] { (d + b * P).update(repeating: 0, count: P) }
  }
}
