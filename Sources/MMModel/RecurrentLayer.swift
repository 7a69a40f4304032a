/// One recurrent layer over slices of a `ParameterArena`.
///
/// Activations are time-major and contiguous: x (T, B, inputSize), output (T, B, outputSize), so the
/// step-t slice of a batch is one block and the input projection of all steps is one GEMM.
/// A layer owns the workspace for its forward caches, sized once for (T, maxBatch).
/// New cells (peephole LSTM, GRU, a bidirectional wrapper) conform to this and slot into the stack.
public protocol RecurrentLayer: AnyObject {
  var inputSize: Int { get }
  var outputSize: Int { get }

  /// Runs the layer over all T steps of a batch of B <= maxBatch samples, caching what backward needs.
  /// Returns the output sequence (T, B, outputSize), valid until the next forward.
  func forward(_ x: UnsafePointer<Float>, steps T: Int, batch B: Int) -> UnsafePointer<Float>

  /// Back-propagates dOut (T, B, outputSize) through the last forward (dOut may be overwritten).
  /// Accumulates (+=) parameter gradients into the arena; writes dx (T, B, inputSize) when dx is non-nil.
  func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
    steps T: Int, batch B: Int)
}
