import MMModel
import MMTensor

/// A batch for tests: owns its memory (time-major x (S, B, D), per-modality lengths (M, B), fused lengths
/// (B), sample ids 0..<B), and hands the model a `ModelBatch` over it.
public final class TestBatch {
  public let x: UnsafeMutablePointer<Float>, lengths: UnsafeMutablePointer<Int32>, fused: UnsafeMutablePointer<Int32>
  public let samples: UnsafeMutablePointer<Int>
  public let original: [Float], originalLengths: [Int32]
  public let B: Int

  /// x (S, B, D) time-major; modalityLengths (M, B); fused lengths default to the max over modalities (≥ 1).
  public init(x: [Float], modalityLengths: [Int32], batch B: Int, fusedLengths: [Int32]? = nil) {
    self.B = B
    original = x; originalLengths = modalityLengths
    self.x = .allocate(capacity: max(x.count, 1)); self.x.initialize(from: x, count: x.count)
    lengths = .allocate(capacity: max(modalityLengths.count, 1));
    lengths.initialize(from: modalityLengths, count: modalityLengths.count)
    let M = modalityLengths.count / B
    let f = fusedLengths ?? (0..<B).map { b in max(1, (0..<M).map { modalityLengths[$0 * B + b] }.max() ?? 1) }
    fused = .allocate(capacity: B); fused.initialize(from: f, count: B)
    samples = .allocate(capacity: B); samples.initialize(from: Array(0..<B), count: B)
  }

  deinit { x.deallocate(); lengths.deallocate(); fused.deallocate(); samples.deallocate() }

  /// The batch as given (a training forward may have changed x and lengths by modality dropout).
  public var model: ModelBatch {
    x.update(from: original, count: original.count)
    lengths.update(from: originalLengths, count: originalLengths.count)
    return ModelBatch(x: x, lengths: lengths, fusedLengths: fused, samples: samples, count: B)
  }
}
