/// Where each modality's steps lie in a row of the shard (and of a balancer record): modality m's step s is D_m
/// floats at `offsets[m] + s * strides[m]`.
///
/// When every modality has the same steps S, a row is the fused (S, D) layout: step s of all modalities side by
/// side (stride D), which is also how a batch lays them out, so a row goes into a batch as S copies. When they
/// differ (an image, one step of C·H·W features, beside a text of 40 steps), padding every modality to S steps
/// would hold S·D floats per row, most of them zeros (system E: 40 x 3073 for 3072 + 40 values); the row is
/// then each modality's own S_m x D_m block, one after the other, and holds Σ S_m·D_m floats.
public struct RowLayout: Equatable, Sendable {
  public let offsets: [Int]  // per modality: its step 0's first float
  public let strides: [Int]  // per modality: floats from one of its steps to the next
  public let steps: [Int]  // S_m
  public let widths: [Int]  // D_m
  public let floats: Int  // floats per row
  /// The fused (S, D) layout: every modality has S steps.
  public let interleaved: Bool

  public init(steps: [Int], widths: [Int]) {
    let S = steps.max() ?? 1, D = widths.reduce(0, +)
    self.steps = steps; self.widths = widths
    interleaved = steps.allSatisfy { $0 == S }
    var offsets: [Int] = [], at = 0
    for (Sm, Dm) in zip(steps, widths) {
      offsets.append(at)
      at += interleaved ? Dm : Sm * Dm
    }
    self.offsets = offsets
    strides = interleaved ? widths.map { _ in D } : widths
    floats = interleaved ? S * D : at
  }
}

extension LoadOptions {
  /// The shard rows' layout for these modalities and steps.
  public var layout: RowLayout { RowLayout(steps: steps, widths: modalities.map(\.features)) }

  /// Each modality's columns of the fused row, in model order.
  public var columns: [Range<Int>] {
    var out: [Range<Int>] = [], column = 0
    for m in modalities {
      out.append(column..<(column + m.features))
      column += m.features
    }
    return out
  }
}
