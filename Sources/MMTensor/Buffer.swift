#if canImport(Glibc)
import Glibc
#endif

/// A fixed-size, zero-initialised, contiguous Float buffer that owns its memory.
///
/// The hot path works on raw pointers into these (no copy-on-write, no bounds checks in release);
/// everything that needs a buffer allocates it once, up front, at its largest size.
///
/// Buffers of 64 KiB and more are anonymous mappings, zero by construction: a page costs memory only once it
/// is written, so a workspace a model never touches (a dense layer's packing scratch) costs none. Those of
/// 4 MiB and more (a shard's features, per-step caches) are also aligned to 2 MiB and advised as transparent
/// huge pages: a 170 MB shard then costs ~85 page faults instead of ~42,000 and no zeroing pass of our own
/// (start-up is mostly this).
public final class Buffer {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>
  private let mapping: (base: UnsafeMutableRawPointer, length: Int)?

  static let mappedBytes = 64 << 10
  static let largeBytes = 4 << 20
  static let hugePage = 2 << 20

  public init(count: Int) {
    precondition(count >= 0, "negative buffer size")
    self.count = count
    let bytes = max(count, 1) * MemoryLayout<Float>.stride
    let huge = bytes >= Buffer.largeBytes
    if bytes >= Buffer.mappedBytes, let m = Buffer.map(bytes, huge: huge) {
      mapping = m
      let align = huge ? Buffer.hugePage : 1
      let aligned = (Int(bitPattern: m.base) + align - 1) / align * align
      pointer = UnsafeMutableRawPointer(bitPattern: aligned)!.bindMemory(to: Float.self, capacity: max(count, 1))
    } else {
      mapping = nil
      pointer = .allocate(capacity: max(count, 1))
      pointer.initialize(repeating: 0, count: max(count, 1))
    }
  }

  /// An anonymous, zero-filled mapping of `bytes`; `huge`: with room to align them to a huge page, advised as
  /// one. nil if mmap fails (the caller then falls back to the heap).
  private static func map(_ bytes: Int, huge: Bool) -> (base: UnsafeMutableRawPointer, length: Int)? {
    let length = bytes + (huge ? hugePage : 0)
    guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
      return nil
    }
    if huge { _ = madvise(base, length, 14) }  // MADV_HUGEPAGE (advice only: ignored where THP is off)
    return (base, length)
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
  }

  deinit {
    if let mapping { munmap(mapping.base, mapping.length) } else { pointer.deallocate() }
  }

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
