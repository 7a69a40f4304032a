import MMTensor

/// Every parameter of a model in one contiguous buffer, and its gradient in a second one of the same layout.
///
/// Tensors are registered by name and shape, in the order of the equivalent PyTorch module's `state_dict()`;
/// layers keep offsets into the arena. Averaging gradients over ranks is then one all-reduce of `grads`,
/// an optimiser step is one walk over `values`, and a checkpoint is one walk over `tensors`.
public final class ParameterArena {
  public struct Tensor: Equatable {
    public let name: String  // PyTorch state_dict key, e.g. "fusion.lstm.weight_ih_l0"
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
  }

  public private(set) var tensors: [Tensor] = []
  public let values: Buffer
  public let grads: Buffer
  public var count: Int { values.count }
  /// `trailingCount` floats past the last gradient, for a caller's values that should ride along with the
  /// gradients' all-reduce (the training loop's stop signal), so a training step needs one collective.
  public let trailingCount: Int
  public var trailing: UnsafeMutablePointer<Float> { grads.pointer + count }

  /// The parameters an optimiser steps: values[0..<trainableCount]. Frozen tensors (a pretrained embedding
  /// kept as it is) follow them, at the end of the arena; their gradients are never computed.
  public let trainableCount: Int

  /// `specs`: (name, shape) in state_dict order; `trailing`: floats after the gradients (see `trailing`);
  /// `frozen`: the names of tensors no optimiser steps, which must come last.
  public init(_ specs: [(name: String, shape: [Int])], trailing: Int = 0, frozen: Set<String> = []) {
    trailingCount = trailing
    var offset = 0, trainable: Int? = nil
    for spec in specs {
      precondition(!tensors.contains { $0.name == spec.name }, "duplicate parameter \(spec.name)")
      if frozen.contains(spec.name) {
        trainable = trainable ?? offset
      } else {
        precondition(trainable == nil, "frozen tensors must come last (\(spec.name) follows one)")
      }
      tensors.append(Tensor(name: spec.name, shape: spec.shape, offset: offset))
      offset += spec.shape.reduce(1, *)
    }
    trainableCount = trainable ?? offset
    values = Buffer(count: offset)
    grads = Buffer(count: offset + trailing)
  }

  public func tensor(_ name: String) -> Tensor {
    guard let t = tensors.first(where: { $0.name == name }) else { preconditionFailure("no parameter \(name)") }
    return t
  }

  /// From the first to the end of the last of the tensors that `match` (a module's tensors are adjacent, in
  /// state_dict order); empty at 0 when none does.
  public func span(where match: (Tensor) -> Bool) -> Range<Int> {
    let mine = tensors.filter(match)
    return (mine.map(\.offset).min() ?? 0)..<(mine.map { $0.offset + $0.count }.max() ?? 0)
  }

  public func value(_ name: String) -> UnsafeMutablePointer<Float> { values.pointer + tensor(name).offset }
  public func grad(_ name: String) -> UnsafeMutablePointer<Float> { grads.pointer + tensor(name).offset }

  public func values(of t: Tensor) -> [Float] {
    Array(UnsafeBufferPointer(start: values.pointer + t.offset, count: t.count))
  }
  public func grads(of t: Tensor) -> [Float] {
    Array(UnsafeBufferPointer(start: grads.pointer + t.offset, count: t.count))
  }

  public func setValues(_ v: [Float], of t: Tensor) {
    precondition(v.count == t.count, "\(t.name): \(v.count) values for shape \(t.shape)")
    v.withUnsafeBufferPointer { (values.pointer + t.offset).update(from: $0.baseAddress!, count: t.count) }
  }

  public func zeroGrads() { grads.zero() }
}
