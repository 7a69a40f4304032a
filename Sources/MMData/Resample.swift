/// Puts one modality of one sample on the model's S steps (`data.align`):
///
///     interpolate  its valid steps [0, L) are resampled to S steps by linear interpolation; valid length S
///     truncate     its first min(L, S) steps are kept; valid length min(L, S)
///     pad          like truncate, but a sample longer than S is an error (nothing is silently cut)
///
/// Steps past the valid length are zero. L = 0 (modality absent) gives S zero steps and length 0.
public enum Resample {
  /// src (T, D) row-major with L valid steps; dst rows are `dstStride` apart (fused layout), D columns each.
  /// Returns the valid length on the S-step grid.
  @discardableResult
  public static func align(
    _ mode: Align, src: UnsafePointer<Float>, validSteps L: Int, features D: Int,
    dst: UnsafeMutablePointer<Float>, steps S: Int, dstStride: Int
  ) -> Int {
    if L == 0 {
      for s in 0..<S { (dst + s * dstStride).update(repeating: 0, count: D) }
      return 0
    }
    switch mode {
    case .interpolate:
      if L == S {  // the grid is the sample's own: a copy (what the interpolation gives, w = 0)
        for s in 0..<S { (dst + s * dstStride).update(from: src + s * D, count: D) }
        return S
      }
      for s in 0..<S {
        let out = dst + s * dstStride
        if L == 1 || S == 1 {
          let row = S == 1 ? (L - 1) / 2 : 0
          out.update(from: src + row * D, count: D)
          continue
        }
        let pos = Double(s) * Double(L - 1) / Double(S - 1)
        let lo = min(Int(pos), L - 2)
        let w = Float(pos - Double(lo))
        let a = src + lo * D, b = src + (lo + 1) * D
        for j in 0..<D { out[j] = a[j] + w * (b[j] - a[j]) }
      }
      return S
    case .truncate, .pad:
      let n = min(L, S)
      for s in 0..<n { (dst + s * dstStride).update(from: src + s * D, count: D) }
      for s in n..<S { (dst + s * dstStride).update(repeating: 0, count: D) }
      return n
    }
  }
}
