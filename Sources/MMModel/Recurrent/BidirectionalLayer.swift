import MMTensor

/// A bidirectional layer, as nn.LSTM/nn.GRU(bidirectional=True) over a pack_padded_sequence: a forward
/// direction over all steps and a reverse one over each sample's valid steps only, so padding never enters it.
/// Output per step: [forward (H) | reverse (H)]; the reverse half is zero at steps >= the sample's length.
/// The reverse direction's parameters carry the suffix `_reverse` (PyTorch's state_dict keys).
///
/// Legend: T = steps, B = batch, D = input features, H = hidden (per direction).
public final class BidirectionalLayer: RecurrentLayer {
  public let forwardDirection: UnidirectionalLayer
  public let reverseDirection: UnidirectionalLayer
  public var inputSize: Int { forwardDirection.inputSize }
  public var outputSize: Int { 2 * forwardDirection.hidden }
  public var poll: (() -> Void)? {
    get { forwardDirection.poll }
    set { forwardDirection.poll = newValue; reverseDirection.poll = newValue }
  }

  let output: Buffer  // (T, B, 2H)  [forward | reverse] at input time
  let dForward: Buffer  // (T, B, H)   dOut's forward half
  let dReverse: Buffer  // (T, B, H)   dOut's reverse half, in the reverse direction's time

  public init(
    cell: CellKind, arena: ParameterArena, prefix: String, layer k: Int, input D: Int, hidden H: Int, maxSteps T: Int,
    maxBatch B: Int
  ) {
    forwardDirection = UnidirectionalLayer(
      cell: cell, arena: arena, names: RecurrentParameterNames(cell: cell, prefix: prefix, layer: k, reverse: false),
      input: D, hidden: H, maxSteps: T, maxBatch: B)
    reverseDirection = UnidirectionalLayer(
      cell: cell, arena: arena, names: RecurrentParameterNames(cell: cell, prefix: prefix, layer: k, reverse: true),
      input: D, hidden: H, maxSteps: T, maxBatch: B, reversed: true)
    output = Buffer(count: T * B * 2 * H)
    dForward = Buffer(count: T * B * H)
    dReverse = Buffer(count: T * B * H)
  }

  public func forward(_ x: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int)
    -> UnsafePointer<Float>
  {
    let H = forwardDirection.hidden
    let hf = forwardDirection.forward(x, ldx: ldx, lengths: lengths, steps: T, batch: B)  // (T, B, H)
    let hr = reverseDirection.forward(x, ldx: ldx, lengths: lengths, steps: T, batch: B)  // (T, B, H) reverse time
    let out = output.pointer
    for b in 0..<B {
      let L = Int(lengths[b])
      for t in 0..<T {
        let o = out + (t * B + b) * 2 * H
        o.update(from: hf + (t * B + b) * H, count: H)
        if t < L {
          (o + H).update(from: hr + ((L - 1 - t) * B + b) * H, count: H)  // input step t is reverse step L-1-t
        } else {
          (o + H).update(repeating: 0, count: H)
        }
      }
    }
    return UnsafePointer(out)
  }

  public func backward(
    _ dOut: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, ldx: Int,
    lengths: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>?, steps T: Int, batch B: Int
  ) {
    let H = forwardDirection.hidden
    let df = dForward.pointer, dr = dReverse.pointer
    for b in 0..<B {
      let L = Int(lengths[b])
      for t in 0..<T {
        let d = dOut + (t * B + b) * 2 * H
        (df + (t * B + b) * H).update(from: d, count: H)
        if t < L {
          (dr + ((L - 1 - t) * B + b) * H).update(from: d + H, count: H)
        } else {
          (dr + (t * B + b) * H).update(repeating: 0, count: H)  // reverse steps past the length
        }
      }
    }
    forwardDirection.backward(df, input: x, ldx: ldx, lengths: lengths, dx: dx, accumulateDx: false, steps: T, batch: B)
    reverseDirection.backward(dr, input: x, ldx: ldx, lengths: lengths, dx: dx, accumulateDx: true, steps: T, batch: B)
  }
}
