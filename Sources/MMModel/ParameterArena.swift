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
  /// `controlCount` floats past the last gradient that ride along with the gradient all-reduce (the
  /// trainer's stop signal: one slot per signal number), so a training step needs one collective.
  public var control: UnsafeMutablePointer<Float> { grads.pointer + count }
  public static let controlCount = 32

  /// `specs`: (name, shape) in state_dict order.
  public init(_ specs: [(name: String, shape: [Int])]) {
    var offset = 0
    for spec in specs {
      precondition(!tensors.contains { $0.name == spec.name }, "duplicate parameter \(spec.name)")
      tensors.append(Tensor(name: spec.name, shape: spec.shape, offset: offset))
      offset += spec.shape.reduce(1, *)
    }
    values = Buffer(count: offset)
    grads = Buffer(count: offset + ParameterArena.controlCount)  // + the control slots
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

  public func values(of t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: values.pointer + t.offset, count: t.count)) }
  public func grads(of t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: grads.pointer + t.offset, count: t.count)) }

  public func setValues(_ v: [Float], of t: Tensor) {
    precondition(v.count == t.count, "\(t.name): \(v.count) values for shape \(t.shape)")
    v.withUnsafeBufferPointer { (values.pointer + t.offset).update(from: $0.baseAddress!, count: t.count) }
  }

  public func zeroGrads() { grads.zero() }
}
