/// One recurrent layer over slices of a `ParameterArena`.
///
/// Activations are time-major: x (T, B, ldx) where each row's first `inputSize` floats are the layer input
/// (ldx >= inputSize lets the first layer read one modality's columns of the fused batch buffer in place),
/// output (T, B, outputSize) contiguous. lengths (B) in 0...T: valid steps per sample.
/// A layer owns the workspace for its forward caches, sized once for (maxSteps, maxBatch).
public protocol RecurrentLayer: AnyObject {
  var inputSize: Int { get }
  var outputSize: Int { get }   // H, or 2H when bidirectional ([forward | reverse] per step, as PyTorch)

  /// Runs the layer over all T steps of a batch of B <= maxBatch samples, caching what backward needs.
  /// Returns the output sequence (T, B, outputSize), valid until the next forward.
  func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int) -> UnsafePointer<Float>

  /// Back-propagates dOut (T, B, outputSize) through the last forward (dOut may be overwritten).
  /// Accumulates (+=) parameter gradients into the arena; writes dx (T, B, inputSize) contiguous when non-nil.
  func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>,
    dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int)
}

/// `model.cell`: the recurrent cell of every encoder.
public enum CellKind: String, CaseIterable, Sendable { case lstm, lstm_peephole = "lstm_peephole", gru }

/// Builds layer k of a stack: its parameter specs (PyTorch state_dict names under `prefix`, e.g.
/// "fusion.lstm." or "encoders.text.gru.") and the layer over an arena.
public enum RecurrentStack {
  public static func parameterSpecs(
    cell: CellKind, bidirectional: Bool, prefix: String, layer k: Int, input D: Int, hidden H: Int
  ) -> [(name: String, shape: [Int])] {
    precondition(cell == .lstm && !bidirectional, "cell \(cell.rawValue) bidirectional \(bidirectional) is not built yet")
    return LSTMLayer.parameterSpecs(prefix: prefix, layer: k, input: D, hidden: H)
  }

  public static func makeLayer(
    cell: CellKind, bidirectional: Bool, arena: ParameterArena, prefix: String, layer k: Int, input D: Int, hidden H: Int,
    maxSteps T: Int, maxBatch B: Int
  ) -> RecurrentLayer {
    precondition(cell == .lstm && !bidirectional, "cell \(cell.rawValue) bidirectional \(bidirectional) is not built yet")
    return LSTMLayer(arena: arena, prefix: prefix, layer: k, input: D, hidden: H, maxSteps: T, maxBatch: B)
  }
}
