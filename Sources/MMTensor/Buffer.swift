/// A fixed-size, zero-initialised, contiguous Float buffer that owns its memory.
///
/// The hot path works on raw pointers into these (no copy-on-write, no bounds checks in release);
/// everything that needs a buffer allocates it once, up front, at its largest size.
public final class Buffer {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>

  public init(count: Int) {
    precondition(count >= 0, "negative buffer size")
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
  }

  deinit { pointer.deallocate() }

  public subscript(i: Int) -> Float {
    get { pointer[i] }
    set { pointer[i] = newValue }
  }

  public func zero() { pointer.update(repeating: 0, count: count) }

  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

  public func copy(from other: Buffer) {
    precondition(other.count == count)
    pointer.update(from: other.pointer, count: count)
  }
}
