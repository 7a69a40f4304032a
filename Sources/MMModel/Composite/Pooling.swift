/// From an encoder's output sequence (T, B, Hs) to one vector per sample (B, Hs), over valid steps only.
///
///     last       the output at step L-1; bidirectional: forward half at L-1, reverse half at 0 (as h_n)
///     mean       (1/L) Σ_{t<L} h_t
///     max        max_{t<L} h_t per feature
///     attention  u_t = tanh(W h_t + b) (A);  e_t = vᵀ u_t;  α = softmax_{t<L}(e);  Σ_{t<L} α_t h_t
///
/// A sample with L = 0 (modality absent) pools to zeros. One file per pooling in Pooling/.
/// Legend: T = steps, B = batch, Hs = encoder output size (2H when bidirectional), A = attention size.
protocol PoolingMethod: Sendable {
  /// `model.pooling`'s value.
  var name: String { get }
  /// The pooling's tensors under the encoder's `prefix` ("encoders.text."), in state_dict order.
  func parameterSpecs(prefix: String, size Hs: Int, attention A: Int) -> [ParameterSpec]
  /// The pooling of one encoder over the arena, its workspace sized for (maxSteps, maxBatch).
  func makeLayer(
    arena: ParameterArena, prefix: String, size Hs: Int, bidirectional: Bool, attention A: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> any PoolingLayer
}

extension PoolingMethod {
  /// A pooling without tensors of its own (last, mean, max).
  func parameterSpecs(prefix: String, size Hs: Int, attention A: Int) -> [ParameterSpec] { [] }
}

/// One encoder's pooling: called once per forward and backward (one dispatch per encoder).
protocol PoolingLayer: AnyObject {
  /// seq (T, B, Hs), lengths (B) -> out (B, Hs), which arrives zeroed (samples with L = 0 stay zero).
  func forward(
    _ seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
    out: UnsafeMutablePointer<Float>)
  /// dOut (B, Hs) -> dSeq (T, B, Hs), which arrives zeroed; accumulates parameter gradients.
  func backward(
    _ dOut: UnsafePointer<Float>, seq: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int,
    dSeq: UnsafeMutablePointer<Float>)
}

/// `model.pooling`: how an encoder turns its output sequence into one vector per sample.
public struct PoolingKind: RegisteredKind {
  let method: any PoolingMethod
  init(_ method: any PoolingMethod) { self.method = method }
  public var rawValue: String { method.name }

  /// The registry: every pooling `model.pooling` accepts, in the order the docs list them.
  public static let allCases: [PoolingKind] = [.last, .mean, .max, .attention]
}
