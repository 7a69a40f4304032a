/// One layer of a recurrent stack (one or both directions) over slices of a `ParameterArena`.
///
/// Activations are time-major: x (T, B, ldx) where each row's first inputSize floats are the layer input
/// (ldx >= inputSize lets the first layer read one modality's columns of the fused batch buffer in place),
/// output (T, B, outputSize) contiguous. lengths (B) in 0...T: valid steps per sample.
/// A layer owns its forward caches and backward scratch, allocated once for (maxSteps, maxBatch).
public protocol RecurrentLayer: AnyObject {
  var inputSize: Int { get }
  var outputSize: Int { get }  // H, or 2H when bidirectional ([forward | reverse] per step, as PyTorch)
  /// Called between backward's time steps (MultimodalModel.poll): lets the sums of gradient buckets already
  /// started progress while this layer works (MPI moves a non-blocking collective only inside MPI calls).
  var poll: (() -> Void)? { get set }

  /// Runs all T steps of B samples, caching what backward needs. Returns the output (T, B, outputSize),
  /// valid until the next forward. Rows at steps >= lengths[b] of the forward direction are deterministic
  /// but meaningless (never read); those of the reverse direction are zero.
  func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int)
    -> UnsafePointer<Float>

  /// dOut (T, B, outputSize) may be overwritten; its rows at steps >= lengths[b] are ignored.
  /// Accumulates (+=) parameter gradients into the arena.
  /// Writes dx (T, B, inputSize) contiguous (stride inputSize, overwrite, not accumulate) when non-nil.
  func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
    lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int)
}

/// Builds layer k of a stack: parameter specs (PyTorch state_dict names under `prefix`, e.g. "fusion.lstm."
/// or "encoders.text.gru.") and the layer over an arena. Layer k > 0 takes the previous layer's output,
/// so its D is H, or 2H when bidirectional.
public enum RecurrentStack {
  /// nn.LSTM / nn.GRU's state_dict order for layer k: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k},
  /// bias_hh_l{k}, then the cell's extra vectors (peephole: weight_ci/cf/co_l{k}); then the same with the
  /// suffix `_reverse` when bidirectional.
  public static func parameterSpecs(
    cell: CellKind, bidirectional: Bool, prefix: String, layer k: Int, input D: Int, hidden H: Int
  ) -> [(name: String, shape: [Int])] {
    (bidirectional ? [false, true] : [false]).flatMap { reverse in
      let names = RecurrentParameterNames(cell: cell, prefix: prefix, layer: k, reverse: reverse)
      let G = cell.gateCount * H
      return [(names.weightIH, [G, D]), (names.weightHH, [G, H]), (names.biasIH, [G]), (names.biasHH, [G])]
        + names.extras.map { ($0, [H]) }
    }
  }

  public static func makeLayer(
    cell: CellKind, bidirectional: Bool, arena: ParameterArena, prefix: String, layer k: Int, input D: Int,
    hidden H: Int, maxSteps T: Int, maxBatch B: Int
  ) -> RecurrentLayer {
    if bidirectional {
      return BidirectionalLayer(
        cell: cell, arena: arena, prefix: prefix, layer: k, input: D, hidden: H, maxSteps: T, maxBatch: B)
    }
    return UnidirectionalLayer(
      cell: cell, arena: arena, names: RecurrentParameterNames(cell: cell, prefix: prefix, layer: k, reverse: false),
      input: D, hidden: H, maxSteps: T, maxBatch: B)
  }
}

/// The state_dict keys of one direction of layer k, e.g. "fusion.lstm.weight_ih_l1_reverse".
public struct RecurrentParameterNames: Sendable {
  public let weightIH, weightHH, biasIH, biasHH: String
  public let extras: [String]  // the cell's extra [H] vectors, in state_dict order

  public init(cell: CellKind, prefix: String, layer k: Int, reverse: Bool) {
    let suffix = "_l\(k)" + (reverse ? "_reverse" : "")
    weightIH = prefix + "weight_ih" + suffix; weightHH = prefix + "weight_hh" + suffix
    biasIH = prefix + "bias_ih" + suffix; biasHH = prefix + "bias_hh" + suffix
    extras = cell.extraParameters.map { prefix + $0 + suffix }
  }
}
