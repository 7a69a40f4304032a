import MMTensor

/// Rows a loader left raw because their statistics were known only once the read was over (`data.normalize:
/// zscore` or `data.missing: mean` without given statistics): `Shard.gather` imputes and normalises each
/// modality's valid steps as it copies them into a batch, so loading is one pass over the file and the shard,
/// not a second one over the shard.
///
/// Per value it is the loader's arithmetic (`ShardLoader.finishStep`): a non-finite value becomes 0 or the
/// training mean, then (v - mean) / std; so a batch holds the same bits either way. A NaN under `missing:
/// error` never gets here: the read stopped at it.
final class PendingFinish {
  let imputeMean: Bool  // missing: mean (else zero)
  let zscore: Bool
  let mean: UnsafeMutablePointer<Float>  // (D) fused order
  let std: UnsafeMutablePointer<Float>

  init(_ o: LoadOptions, statistics: FeatureStatistics) {
    imputeMean = o.missing == .mean; zscore = o.normalize == .zscore
    let D = statistics.mean.count
    mean = .allocate(capacity: max(D, 1)); std = .allocate(capacity: max(D, 1))
    mean.initialize(from: statistics.mean, count: D); std.initialize(from: statistics.std, count: D)
  }

  deinit { mean.deallocate(); std.deallocate() }

  /// Finishes, in place, one step of one modality: Dm values whose first feature is fused column c.
  @inline(__always) func finish(_ v: UnsafeMutablePointer<Float>, column c: Int, _ Dm: Int) {
    let mu = mean + c, sd = std + c
    if !ShardLoader.allFinite(v, Dm) {
      for j in 0..<Dm where !v[j].isFinite { v[j] = imputeMean ? mu[j] : 0 }
    }
    if zscore { for j in 0..<Dm { v[j] = (v[j] - mu[j]) / sd[j] } }
  }
}
