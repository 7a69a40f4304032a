import Foundation
import MMDistributed
import MMModel

/// The step's one collective: the arena's gradients, with its control slot (the stop flag), summed over
/// ranks. The model's gradient buckets are started (MPI_Iallreduce) as soon as backward finishes each, so
/// the sum of one overlaps the backward of the next; `finish` waits for the rest. Allocates nothing per step.
///
/// `MMTRAIN_GRADIENT_BUCKETS=0` in the environment makes it one blocking all-reduce of the whole buffer after
/// backward instead (the benchmark's "before", to measure what the overlap buys).
final class GradientExchange {
  static let bucketed = ProcessInfo.processInfo.environment["MMTRAIN_GRADIENT_BUCKETS"] != "0"

  let comm: Communicator
  let grads: UnsafeMutablePointer<Float>
  let buckets: [Range<Int>]
  let total: Int  // the whole buffer: gradients and control slots
  /// Seconds spent inside the collectives since the last reset (the "MPI wait" of metrics.jsonl).
  var waitSeconds = 0.0

  init(comm: Communicator, model: MultimodalModel) {
    self.comm = comm
    grads = model.arena.grads.pointer
    buckets = model.gradientBuckets
    total = buckets.map(\.upperBound).max() ?? 0
  }

  /// Bucket k's gradients are final: start summing them.
  func start(_ k: Int) {
    guard GradientExchange.bucketed else { return }
    let t = RunTiming.now()
    comm.startAllreduceSum(grads + buckets[k].lowerBound, count: buckets[k].count)
    comm.progress()
    waitSeconds += RunTiming.now() - t
  }

  /// Starts every bucket (a rank with no rows in this batch contributes zeros, in the same order).
  func startAll() { for k in buckets.indices { start(k) } }

  /// Waits for every bucket; the gradients (and control slot) are then the sums over ranks.
  func finish() {
    let t = RunTiming.now()
    if !GradientExchange.bucketed { comm.allreduceSum(grads, count: total) }
    comm.waitAll()
    waitSeconds += RunTiming.now() - t
  }
}
