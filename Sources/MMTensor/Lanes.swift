/// 16-float vector loads and stores at any offset (no alignment needed), for the point-wise loops LLVM does
/// not vectorise by itself: those that read and write through more pointers than it can prove apart (the
/// LSTM cell's backward reads nine rows and writes five). A loop over H goes in chunks of `width`; the last,
/// shorter chunk is filled with zeros and only its `count` valid lanes are stored, so every element takes the
/// same vector arithmetic (IEEE per lane: the same bits as the scalar formula).
public enum Lanes {
  public typealias V = SIMD16<Float>
  public static let width = 16

  @inlinable @inline(__always)
  public static func load(_ p: UnsafePointer<Float>, _ i: Int, _ count: Int) -> V {
    if count == width { return UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
    var v = V()
    for l in 0..<count { v[l] = p[i + l] }
    return v
  }

  @inlinable @inline(__always)
  public static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ count: Int) -> V {
    load(UnsafePointer(p), i, count)
  }

  @inlinable @inline(__always)
  public static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ count: Int) {
    if count == width { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self); return }
    for l in 0..<count { p[i + l] = v[l] }
  }
}
