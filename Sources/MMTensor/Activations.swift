/// Element-wise kernels for the gate math over contiguous memory, with no allocation and no libm calls:
/// exp is Cephes' single-precision polynomial (relative error ~1e-7), written as straight-line scalar code
/// that LLVM vectorises across the loop; sigmoid and tanh are built on it and agree with libm to ~3e-7.
public enum Activations {
  @inlinable @inline(__always)
  public static func exp(_ v: Float) -> Float {
    let x0 = v.isNaN ? 0 : min(max(v, -87.3), 88.3)  // NaN is carried through (returned as is)
    // x = n·ln2 + r with n = round-to-nearest-even(x0·log2e), taken by adding and removing 1.5·2^23 (exact for
    // |x0·log2e| < 2^22): no rintf call, and n sits in the sum's low mantissa bits, so 2^n below needs no trapping
    // float-to-int conversion. Both keep the loop branch-free, so LLVM vectorises it (bit-identical to
    // `rounded(.toNearestOrEven)` and `Int32(n)`, checked over every 7th float bit pattern).
    let shifted = x0 * 1.442_695_040_888_963_4 + 12_582_912
    let n = shifted - 12_582_912
    var x = x0 - n * 0.693_359_375
    x = x - n * -2.121_944_4e-4
    var y: Float = 1.987_569_15e-4
    y = y * x + 1.398_199_950_7e-3
    y = y * x + 8.333_451_907_3e-3
    y = y * x + 4.166_579_589_4e-2
    y = y * x + 1.666_666_545_9e-1
    y = y * x + 5.000_000_120_1e-1
    y = y * x * x + x + 1
    let r = y * Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)  // · 2^n
    return v.isNaN ? v : r
  }

  @inlinable @inline(__always) public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
  @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { 2 / (1 + exp(-2 * x)) - 1 }

  /// In place: x[i] = 1 / (1 + e^-x[i]) for i in 0..<n.
  @inlinable @inline(__always)
  public static func sigmoid(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] = sigmoid(x[i]) }
  }

  /// In place: x[i] = tanh(x[i]) for i in 0..<n.
  @inlinable @inline(__always)
  public static func tanh(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] = tanh(x[i]) }
  }
}
