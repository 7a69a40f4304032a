import Foundation
import MMModel

/// What happens to the all-reduced gradient before the optimiser step, in PyTorch's order: the L1 term
/// (part of the loss, so of the gradient) and clipping by the global norm. Plain loops over the arena's
/// flat buffers; every rank holds the same all-reduced gradient, so every rank computes the same result.
public enum GradientTransforms {
  /// The ranges of the arena that L1 applies to: weight matrices (tensors of rank ≥ 2), not biases or
  /// other vectors.
  public static func weightRanges(_ arena: ParameterArena) -> [Range<Int>] {
    arena.tensors.filter { $0.shape.count >= 2 && $0.offset < arena.trainableCount }.map {
      $0.offset..<($0.offset + $0.count)
    }
  }

  /// grad += λ·sign(p) over `ranges` (torch.sign: 0 at 0): the gradient of λ·Σ|p|.
  public static func addL1(_ arena: ParameterArena, lambda: Double, ranges: [Range<Int>]) {
    let l = Float(lambda), p = arena.values.pointer, g = arena.grads.pointer
    for range in ranges {
      for i in range { g[i] += p[i] > 0 ? l : (p[i] < 0 ? -l : 0) }
    }
  }

  /// λ·Σ|p| over `ranges`: the L1 term's contribution to the loss.
  public static func l1Penalty(_ arena: ParameterArena, lambda: Double, ranges: [Range<Int>]) -> Double {
    let p = arena.values.pointer
    var sum = 0.0
    for range in ranges { for i in range { sum += Double(abs(p[i])) } }
    return lambda * sum
  }

  /// ‖grad‖₂ over the whole arena, accumulated in Double.
  public static func globalNorm(_ arena: ParameterArena) -> Double {
    // In float64, 8 lanes at a time (one sum per lane, then the lanes): a single running sum is a chain of
    // dependent adds that runs at a quarter of the speed. Deterministic: the same order on every rank and run.
    let g = UnsafeRawPointer(arena.grads.pointer), n = arena.count
    var lanes = SIMD8<Double>(repeating: 0)
    var i = 0
    while i + 8 <= n {
      let v = SIMD8<Double>(g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
      lanes += v * v
      i += 8
    }
    var sum = lanes.sum()
    let tail = arena.grads.pointer
    while i < n { sum += Double(tail[i]) * Double(tail[i]); i += 1 }
    return sum.squareRoot()
  }

  /// torch.nn.utils.clip_grad_norm_(max_norm): grad *= min(1, max_norm / (norm + 1e-6)).
  public static func clip(_ arena: ParameterArena, maxNorm: Double, norm: Double) {
    let coefficient = maxNorm / (norm + 1e-6)
    guard coefficient < 1 else { return }
    let c = Float(coefficient), g = arena.grads.pointer
    for i in 0..<arena.count { g[i] *= c }
  }
}
