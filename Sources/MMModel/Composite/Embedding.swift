import MMTensor

/// `model.embed.<m>` resolved against the data: nn.Embedding(V, E) of a token-id modality.
public struct EmbedShape: Equatable, Sendable {
  public var vocabulary: Int  // V: the pretrained table's rows, or the largest id in the file + 1
  public var size: Int  // E
  /// Not trained (pretrained vectors, by default): the tensor sits at the end of the arena, past the optimiser.
  public var frozen: Bool
  public init(vocabulary: Int, size: Int, frozen: Bool) {
    self.vocabulary = vocabulary; self.size = size; self.frozen = frozen
  }

  /// `embed.<m>.weight` [V, E], drawn from N(0, 1) as nn.Embedding's.
  func parameterSpec(modality: String) -> ParameterSpec {
    var p = ParameterSpec("embed.\(modality).weight", [vocabulary, size], bound: 0)
    p.normal = true; p.frozen = frozen
    return p
  }
}

/// The embedding in front of a token modality's recurrent encoder: ids (one float column of the fused batch,
/// exact integers) -> vectors.
///
///     ids (T, B) at ldx apart  -> gather rows of W [V, E] ->  (T, B, E), zero past each length
///     backward: dW[id] += d(T, B, E) at the valid steps; the rows touched are listed (TouchedRows)
///
/// A frozen table computes no gradient (its encoder's first layer then skips dx too).
final class EmbeddingLookup {
  let shape: EmbedShape
  let weight: UnsafePointer<Float>
  let grad: UnsafeMutablePointer<Float>
  let output: Buffer  // (T, B, E)
  /// The rows the last backward wrote (trained tables only).
  let touched: TouchedRows?

  init(_ shape: EmbedShape, modality: String, arena: ParameterArena, maxRows: Int) {
    self.shape = shape
    let t = arena.tensor("embed.\(modality).weight")
    weight = UnsafePointer(arena.values.pointer + t.offset)
    grad = arena.grads.pointer + t.offset
    output = Buffer(count: maxRows * shape.size)
    touched =
      shape.frozen
      ? nil : TouchedRows(offset: t.offset, width: shape.size, vocabulary: shape.vocabulary, capacity: maxRows)
  }

  /// ids (T, B) with stride `ldx` -> (T, B, E). The loader checked every valid id against V; padding is not read.
  func forward(_ ids: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int, batch B: Int)
    -> UnsafePointer<Float>
  {
    let E = shape.size, out = output.pointer
    for t in 0..<T {
      for b in 0..<B {
        let row = out + (t * B + b) * E
        if t < Int(lengths[b]) {
          row.update(from: weight + Int(ids[(t * B + b) * ldx]) * E, count: E)
        } else {
          row.update(repeating: 0, count: E)
        }
      }
    }
    return UnsafePointer(out)
  }

  /// dW[id] += dOut (T, B, E) at the valid steps of the last forward's ids.
  func backward(
    _ dOut: UnsafePointer<Float>, ids: UnsafePointer<Float>, ldx: Int, lengths: UnsafePointer<Int32>, steps T: Int,
    batch B: Int
  ) {
    guard let touched else { return }
    let E = shape.size
    touched.clear()
    for t in 0..<T {
      for b in 0..<B where t < Int(lengths[b]) {
        let id = Int(ids[(t * B + b) * ldx]), g = grad + id * E, d = dOut + (t * B + b) * E
        for j in 0..<E { g[j] += d[j] }
        touched.touch(id)
      }
    }
  }
}
