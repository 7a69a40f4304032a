import MMData
import MMModel
import MMTensor

/// One batch gathered from a shard, time-major, allocated once at the largest local batch.
final class BatchBuffers {
  let x: Buffer  // (S, maxBatch, D)
  let lengths: UnsafeMutablePointer<Int32>  // (maxBatch) fused
  let modalityLengths: UnsafeMutablePointer<Int32>  // (M, maxBatch)
  let samples: UnsafeMutablePointer<Int>  // (maxBatch) global row ids
  let targets: Buffer  // (maxBatch, targetWidth); per-step targets (maxBatch, S, K)
  /// `task.target: step`: the valid (sample, step) rows of the batch, for the loss and the metrics.
  let stepRows: StepRows?

  init(
    steps: Int, maxBatch: Int, features: Int, modalities: Int, targetWidth: Int, stepRows: StepRows? = nil
  ) {
    self.stepRows = stepRows
    x = Buffer(count: steps * maxBatch * features)
    lengths = .allocate(capacity: maxBatch)
    lengths.initialize(repeating: 1, count: maxBatch)
    modalityLengths = .allocate(capacity: modalities * maxBatch)
    modalityLengths.initialize(repeating: 0, count: modalities * maxBatch)
    samples = .allocate(capacity: maxBatch)
    samples.initialize(repeating: 0, count: maxBatch)
    targets = Buffer(count: maxBatch * targetWidth)
  }

  /// Gathers the shard's rows at local indices `local`, then `recordCount` records received from other ranks
  /// (BatchBalancer), and describes them for the model.
  func gather(
    _ local: UnsafeBufferPointer<Int>, records: UnsafePointer<Float>? = nil, recordCount: Int = 0,
    from shard: Shard
  ) -> ModelBatch {
    shard.gather(
      local, records: records, recordCount: recordCount, x: x.pointer, lengths: lengths,
      modalityLengths: modalityLengths, targets: targets.pointer, samples: samples)
    return ModelBatch(
      x: x.pointer, lengths: modalityLengths, fusedLengths: lengths, samples: samples,
      count: local.count + recordCount)
  }

  deinit { lengths.deallocate(); modalityLengths.deallocate(); samples.deallocate() }
}
