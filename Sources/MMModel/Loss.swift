import Foundation

/// The training objective, matching PyTorch's mean-reduced losses over the GLOBAL batch:
///
///     multiclass  F.cross_entropy(logits (B, C), labels (B))                 C >= 2
///     binary      F.binary_cross_entropy_with_logits(logits[:, 0], labels)   C = 1
///     regression  F.mse_loss(logits (B, K), targets (B, K))                  C = K
///
/// Ranks see only their part of a global batch, so `forwardBackward` returns the SUM of per-sample losses
/// (regression: per-sample mean over K) and scales dlogits by 1 / globalCount; the all-reduced gradient sum
/// is then exactly the gradient of the global mean.
/// `task.kind`: what is predicted. It picks the head's width and the loss, so it lives with the loss.
public enum TaskKind: String, CaseIterable, Sendable {
  case binary, multiclass, regression
}

public struct LossResult {
  public var lossSum: Double = 0   // Σ over local samples of the per-sample loss
  public var correct: Int = 0      // classification: local samples predicted right
  public init() {}
}

public enum Loss {
  /// logits (B, C); targets (B) class ids as Float for classification, (B, K) for regression.
  /// Writes dlogits (B, C) when non-nil, scaled by 1 / globalCount.
  public static func evaluate(
    _ kind: TaskKind, logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int, outputs C: Int,
    globalCount: Int, dlogits: UnsafeMutablePointer<Float>?
  ) -> LossResult {
    var r = LossResult()
    let scale = Float(1.0 / Double(max(globalCount, 1)))
    switch kind {
    case .multiclass:
      for b in 0..<B {
        let z = logits + b * C, y = Int(targets[b])
        var mx = z[0], arg = 0
        for k in 1..<C where z[k] > mx { mx = z[k]; arg = k }
        var sum = 0.0
        for k in 0..<C { sum += exp(Double(z[k] - mx)) }
        let logSum = log(sum) + Double(mx)
        r.lossSum += logSum - Double(z[y])                      // -log softmax(z)[y]
        if arg == y { r.correct += 1 }
        if let d = dlogits {
          for k in 0..<C { d[b * C + k] = Float(exp(Double(z[k]) - logSum)) * scale }
          d[b * C + y] -= scale                                 // softmax - onehot
        }
      }
    case .binary:
      for b in 0..<B {
        let z = Double(logits[b]), y = Double(targets[b])
        r.lossSum += max(z, 0) - z * y + log1p(exp(-abs(z)))    // stable BCE with logits
        if (z > 0) == (y > 0.5) { r.correct += 1 }
        if let d = dlogits { d[b] = Float(1 / (1 + exp(-z)) - y) * scale }
      }
    case .regression:
      let perElement = scale / Float(C)
      for b in 0..<B {
        var s = 0.0
        for k in 0..<C {
          let e = logits[b * C + k] - targets[b * C + k]
          s += Double(e) * Double(e)
          if let d = dlogits { d[b * C + k] = 2 * e * perElement }
        }
        r.lossSum += s / Double(C)
      }
    }
    return r
  }
}
