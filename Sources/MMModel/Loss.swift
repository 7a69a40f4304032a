import Foundation
import MMCore

/// The training objective, matching PyTorch's mean-reduced losses over the GLOBAL batch:
///
///     multiclass  F.cross_entropy(logits (B, C), labels (B), weight=w, label_smoothing=ε)      C >= 2
///     binary      F.binary_cross_entropy_with_logits(logits[:, 0], labels, pos_weight=p)     C = 1
///     regression  F.mse_loss | F.l1_loss | F.huber_loss(logits (B, K), targets (B, K), delta)  C = K
///
/// Ranks see only their part of a global batch, so `evaluate` returns SUMS over the local rows and scales
/// dlogits by 1 / denominator, where the denominator is the global batch's Σ w_y for weighted cross-entropy
/// (torch divides by the weights of the batch's labels) and the global row count otherwise. The all-reduced
/// gradient sum is then exactly the gradient of the global mean.

/// `task.loss` for regression.
public enum RegressionLoss: String, CaseIterable, Sendable { case mse, mae, huber }

/// `task.class_weights`: none, sklearn's "balanced" (n / (C · count_c) over the training rows), or a list.
public enum ClassWeights: Equatable, Sendable {
  case none, balanced
  case list([Double])
}

/// Which loss, with its options: everything `evaluate` needs beyond the logits and targets.
public struct LossSpec: Equatable, Sendable {
  public var kind: TaskKind
  /// multiclass: CrossEntropyLoss(weight=), one per class; nil = unweighted.
  public var classWeights: [Float]?
  /// binary: BCEWithLogitsLoss(pos_weight=) = w1 / w0 of the class weights; nil = 1.
  public var posWeight: Float?
  /// multiclass: CrossEntropyLoss(label_smoothing=).
  public var labelSmoothing: Float
  public var regression: RegressionLoss
  public var huberDelta: Float

  public init(
    _ kind: TaskKind, classWeights: [Float]? = nil, posWeight: Float? = nil, labelSmoothing: Float = 0,
    regression: RegressionLoss = .mse, huberDelta: Float = 1
  ) {
    self.kind = kind; self.classWeights = classWeights; self.posWeight = posWeight; self.labelSmoothing = labelSmoothing
    self.regression = regression; self.huberDelta = huberDelta
  }

  /// Whether the mean is over Σ w_y rather than the row count (weighted cross-entropy).
  public var weightsRows: Bool { kind == .multiclass && classWeights != nil }

  /// A row's share of the denominator: w_y under weighted cross-entropy, else 1.
  @inline(__always) public func weight(ofLabel y: Float) -> Double {
    guard weightsRows, let w = classWeights else { return 1 }
    return Double(w[Int(y)])
  }
}

public struct LossResult {
  public var lossSum: Double = 0  // Σ over local rows of the (class-weighted) per-row loss
  public var weightSum: Double = 0  // Σ over local rows of w_y (weighted cross-entropy), else the row count
  public var correct: Int = 0  // classification: local rows predicted right
  public var absErrorSum: Double = 0  // regression: Σ over local rows of the mean |prediction − target|
  public init() {}
}

public enum Loss {
  /// logits (B, C); targets (B) class ids as Float for classification, (B, K) for regression.
  /// Writes dlogits (B, C) when non-nil, scaled by 1 / denominator (see above).
  public static func evaluate(
    _ spec: LossSpec, logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int, outputs C: Int,
    denominator: Double, dlogits: UnsafeMutablePointer<Float>?
  ) -> LossResult {
    var r = LossResult()
    let scale = denominator > 0 ? 1 / denominator : 0
    switch spec.kind {
    case .multiclass:
      // loss_b = (1-ε)·w_y·(logΣe^z − z_y) + (ε/C)·Σ_c w_c·(logΣe^z − z_c)      (w = 1 unweighted)
      // dz_k   = (1-ε)·w_y·(p_k − δ_ky) + (ε/C)·(p_k·Σ_c w_c − w_k)
      let eps = Double(spec.labelSmoothing), w = spec.classWeights
      var wTotal = Double(C)  // Σ_c w_c, in class order (a loop: `reduce` allocated per call, unoptimised)
      if let w {
        wTotal = 0
        for k in 0..<C { wTotal += Double(w[k]) }
      }
      for b in 0..<B {
        let z = logits + b * C, y = Int(targets[b])
        var mx = z[0], arg = 0
        for k in 1..<C where z[k] > mx { mx = z[k]; arg = k }
        var sum = 0.0
        for k in 0..<C { sum += exp(Double(z[k] - mx)) }
        let logSum = log(sum) + Double(mx)
        let wy = w.map { Double($0[y]) } ?? 1
        var loss = (1 - eps) * wy * (logSum - Double(z[y]))  // -log softmax(z)[y]
        if eps > 0 {
          var smooth = 0.0
          for k in 0..<C { smooth += (w.map { Double($0[k]) } ?? 1) * (logSum - Double(z[k])) }
          loss += eps / Double(C) * smooth
        }
        r.lossSum += loss
        r.weightSum += wy
        if arg == y { r.correct += 1 }
        if let d = dlogits {
          for k in 0..<C {
            let p = exp(Double(z[k]) - logSum), wk = w.map { Double($0[k]) } ?? 1
            let onehot = k == y ? 1.0 : 0.0
            d[b * C + k] = Float(((1 - eps) * wy * (p - onehot) + eps / Double(C) * (p * wTotal - wk)) * scale)
          }
        }
      }
    case .binary:
      // loss = −[p·y·log σ(z) + (1−y)·log(1−σ(z))];  dz = σ(z)·(p·y + 1 − y) − p·y      (p = pos_weight)
      let pw = Double(spec.posWeight ?? 1)
      for b in 0..<B {
        let z = Double(logits[b]), y = Double(targets[b])
        let logWeight = (pw - 1) * y + 1
        r.lossSum += (1 - y) * z + logWeight * (log1p(exp(-abs(z))) + max(-z, 0))  // torch's stable form
        r.weightSum += 1
        if (z > 0) == (y > 0.5) { r.correct += 1 }
        if let d = dlogits { d[b] = Float((1 / (1 + exp(-z)) * (pw * y + 1 - y) - pw * y) * scale) }
      }
    case .regression:
      // Mean over the B·K elements of mse e², mae |e|, or huber (|e| < δ ? e²/2 : δ·(|e| − δ/2)).
      let perElement = scale / Double(C), delta = Double(spec.huberDelta)
      for b in 0..<B {
        var s = 0.0, a = 0.0
        for k in 0..<C {
          let e = Double(logits[b * C + k]) - Double(targets[b * C + k])
          let sign: Double = e > 0 ? 1 : (e < 0 ? -1 : 0)
          let (loss, grad): (Double, Double)
          switch spec.regression {
          case .mse: (loss, grad) = (e * e, 2 * e)
          case .mae: (loss, grad) = (abs(e), sign)
          case .huber: (loss, grad) = abs(e) < delta ? (0.5 * e * e, e) : (delta * (abs(e) - 0.5 * delta), delta * sign)
          }
          s += loss; a += abs(e)
          if let d = dlogits { d[b * C + k] = Float(grad * perElement) }
        }
        r.lossSum += s / Double(C)
        r.absErrorSum += a / Double(C)
        r.weightSum += 1
      }
    }
    return r
  }

  /// The unweighted losses of `task.kind`, with the global row count as the denominator.
  public static func evaluate(
    _ kind: TaskKind, logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, batch B: Int, outputs C: Int,
    globalCount: Int, dlogits: UnsafeMutablePointer<Float>?
  ) -> LossResult {
    evaluate(
      LossSpec(kind), logits: logits, targets: targets, batch: B, outputs: C, denominator: Double(globalCount),
      dlogits: dlogits)
  }
}
