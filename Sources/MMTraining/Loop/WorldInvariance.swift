import MMConfig
import MMData
import MMDistributed
import MMModel

/// `dist.world_invariant: true`: what a run needs to train to the same bits on any number of ranks. The global
/// batch's chunks (TrainingChunks), their gradients' exact sum (ExactGradientSum), and the epoch's per-chunk
/// losses and weights, summed in chunk order at the epoch's end (so the train loss is the same too).
final class WorldInvariance {
  let chunks: TrainingChunks
  let sum: ExactGradientSum
  let chunksPerStep: Int
  /// (steps per epoch · chunks per step) per-chunk loss sums and weight sums of the epoch; each entry is written
  /// by the one rank that computed the chunk, zero elsewhere, so the all-reduce adds only zeros to it.
  private var loss: [Double], weight: [Double]
  /// The loss denominator's exact sum: 2^32 fixed point (Σ of w_y or valid steps per chunk).
  var denominator: [Int64] = [0]
  static let denominatorScale = 4_294_967_296.0  // 2^32

  init(model: MultimodalModel, shard: Shard, samples: Int, work: [Int32], config c: TrainConfig, comm: Communicator) {
    let perStep = TrainingChunks.count(rows: max(1, min(c.train.batchSize, samples)))
    chunksPerStep = perStep
    chunks = TrainingChunks(comm: comm, shard: shard, samples: samples, work: work, batchSize: c.train.batchSize)
    // A trained embedding's table is in no bucket of the model's (its touched rows are summed apart without
    // this key): here it is one more bucket, summed whole, after backward.
    let tables = model.touchedRows.compactMap { rows in
      model.arena.tensors.first { $0.offset == rows.offset }.map { $0.offset..<($0.offset + $0.count) }
    }
    sum = ExactGradientSum(
      comm: comm, grads: model.arena.grads.pointer,
      tensors: model.arena.tensors.map { $0.offset..<($0.offset + $0.count) }, buckets: model.gradientBuckets + tables,
      chunks: perStep)
    loss = []; weight = []
  }

  /// Before an epoch of `steps` steps: every chunk's loss and weight 0 (allocated once, at the first epoch).
  func beginEpoch(steps: Int) {
    let n = steps * chunksPerStep
    if loss.count != n {
      loss = [Double](repeating: 0, count: n); weight = loss
    } else {
      for i in 0..<n { loss[i] = 0; weight[i] = 0 }
    }
  }

  /// Chunk j of step `step` (of the epoch) had this loss sum and weight sum.
  func record(step: Int, chunk j: Int, lossSum: Double, weightSum: Double) {
    loss[step * chunksPerStep + j] = lossSum + 0  // + 0: -0.0 becomes 0.0, as a sum with other ranks' zeros would
    weight[step * chunksPerStep + j] = weightSum + 0
  }

  /// The epoch's loss and weight sums over every chunk, added in chunk order (the same on every world size).
  /// Collective.
  func epochSums(_ comm: Communicator) -> (loss: Double, weight: Double) {
    comm.allreduceSum(&loss)
    comm.allreduceSum(&weight)
    var l = 0.0, w = 0.0
    for i in loss.indices { l += loss[i]; w += weight[i] }
    return (l, w)
  }
}
