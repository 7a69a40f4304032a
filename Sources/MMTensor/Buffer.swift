#if canImport(Glibc)
  import Glibc
  import MMKernels
#endif

/// A fixed-size, zero-initialised, contiguous Float buffer that owns its memory.
///
/// The hot path works on raw pointers into these (no copy-on-write, no bounds checks in release);
/// everything that needs a buffer allocates it once, up front, at its largest size.
///
/// Buffers of 64 KiB and more are anonymous mappings, zero by construction: a page costs memory only once it
/// is written, so a workspace a model never touches (a dense layer's packing scratch) costs none. A buffer that
/// is about to be written whole (a shard's features) is `prefault`ed instead: MAP_POPULATE maps every page in
/// the one mmap call rather than one fault at a time.
///
/// No transparent huge pages: in a VM that hands free memory back to its host, a fresh 2 MB page has to be
/// backed again on first touch, which made both loading and training slower (measured in the Performance
/// article).
public final class Buffer {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>
  private let mapping: (base: UnsafeMutableRawPointer, length: Int)?

  static let mappedBytes = 64 << 10

  public convenience init(count: Int) { self.init(count: count, prefault: false) }

  public init(count: Int, prefault: Bool) {
    precondition(count >= 0, "negative buffer size")
    self.count = count
    let bytes = max(count, 1) * MemoryLayout<Float>.stride
    if bytes >= Buffer.mappedBytes, let m = Buffer.map(bytes, prefault: prefault) {
      mapping = m
      pointer = m.base.bindMemory(to: Float.self, capacity: max(count, 1))
    } else {
      mapping = nil
      pointer = .allocate(capacity: max(count, 1))
      pointer.initialize(repeating: 0, count: max(count, 1))
    }
  }

  /// An anonymous, zero-filled mapping of `bytes`, its pages mapped up front when `prefault`. nil if mmap fails
  /// (the caller then falls back to the heap).
  private static func map(_ bytes: Int, prefault: Bool) -> (base: UnsafeMutableRawPointer, length: Int)? {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? MAP_POPULATE : 0)
    guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0), base != MAP_FAILED else { return nil }
    return (base, bytes)
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

extension Buffer {
  /// Makes malloc map and unmap every block from 1 MB, always: call once, at start. glibc's default raises
  /// that threshold to the largest block freed so far, so a checkpoint's buffers (HDF5's in-memory image, its
  /// checksum filter's chunk) would come from the heap the next time and stay resident after (the Performance
  /// article has the figures). The training step allocates nothing, so no hot path pays for the mappings.
  public static func mapLargeAllocations() { _ = mmk_malloc_map_from(1 << 20) }
}
