import MMModel
import MMTensor

/// `task.target: step`: a batch's valid (sample, step) pairs as rows. The model's logits are (T, B, C)
/// time-major and the batch's targets (B, T, K) sample-major; `gather` copies the rows at steps t < L_b
/// (L_b: sample b's fused length) into contiguous (R, C) logits and (R, K) targets, sample by sample, so the
/// losses, counts and metrics written for one label per row apply unchanged, as a masked PyTorch loss
/// computes them. `scatter` returns the rows' loss gradient to the model's (T, B, C) dlogits, zero at the
/// padded steps. Allocated once, for T·maxBatch rows.
///
/// Legend: T = steps, B = batch, C = outputs, K = targets per step (1, or the regression outputs), R = rows.
final class StepRows {
  let steps: Int, outputs: Int, width: Int  // T, C, K
  let logits: Buffer  // (R, C)
  let targets: Buffer  // (R, K)
  let dlogits: Buffer  // (R, C): the loss writes it, `scatter` reads it
  let source: UnsafeMutablePointer<Int>  // (R): each row's row t·B + b of the model's logits
  let sample: UnsafeMutablePointer<Int>  // (R): each row's sample b in the batch
  let step: UnsafeMutablePointer<Int>  // (R): each row's step t
  private(set) var count = 0  // R

  init(steps T: Int, maxBatch B: Int, outputs C: Int, width K: Int) {
    steps = T; outputs = C; width = K
    logits = Buffer(count: T * B * C); targets = Buffer(count: T * B * K); dlogits = Buffer(count: T * B * C)
    source = .allocate(capacity: T * B); sample = .allocate(capacity: T * B); step = .allocate(capacity: T * B)
  }

  deinit { source.deallocate(); sample.deallocate(); step.deallocate() }

  /// The loss denominator's share of a batch: its valid steps, each weighted by w_y under weighted
  /// cross-entropy (targets (B, T, K)).
  func denominator(
    targets y: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, batch B: Int, loss: LossSpec
  ) -> Double {
    var sum = 0.0
    for b in 0..<B {
      for t in 0..<min(Int(lengths[b]), steps) { sum += loss.weight(ofLabel: y[(b * steps + t) * width]) }
    }
    return sum
  }

  /// Rows of the batch's valid steps, sample-major: logits (T, B, C) and targets (B, T, K) -> (R, C), (R, K).
  func gather(
    logits z: UnsafePointer<Float>, targets y: UnsafePointer<Float>, lengths: UnsafePointer<Int32>, batch B: Int
  ) {
    let T = steps, C = outputs, K = width
    var r = 0
    for b in 0..<B {
      for t in 0..<min(Int(lengths[b]), T) {
        source[r] = t * B + b; sample[r] = b; step[r] = t
        (logits.pointer + r * C).update(from: z + (t * B + b) * C, count: C)
        (targets.pointer + r * K).update(from: y + (b * T + t) * K, count: K)
        r += 1
      }
    }
    count = r
  }

  /// dlogits (T, B, C) of the model: the rows' gradient at their steps, zero elsewhere.
  func scatter(into d: UnsafeMutablePointer<Float>, batch B: Int) {
    let C = outputs
    d.update(repeating: 0, count: steps * B * C)
    for r in 0..<count { (d + source[r] * C).update(from: dlogits.pointer + r * C, count: C) }
  }
}
