import Foundation
import MMCore
import MMTensor

/// The step's one collective: the arena's gradients, with its control slot (the stop flag), summed over
/// ranks. The model's gradient buckets (the head's, then each recurrent layer's, top first) are started
/// (MPI_Iallreduce) as soon as backward finishes each, and `poll`, called between the recurrent layers'
/// backward time steps, lets MPI move them meanwhile (it does only inside MPI calls), so the sum of one
/// overlaps the backward of the next; `finish` waits for the rest. Allocates nothing per step.
///
/// `MMTRAIN_GRADIENT_BUCKETS=0` in the environment makes it one blocking all-reduce of the whole buffer after
/// backward instead (the benchmark's "before", to measure what the overlap buys).
///
/// `dist.compress: fp16` sums float16 copies instead (half the bytes; Communicator.startAllreduceSum for Float16),
/// and the sums are widened back into the gradients before the optimiser sees them.
public final class GradientExchange {
  public static let bucketed = ProcessInfo.processInfo.environment["MMTRAIN_GRADIENT_BUCKETS"] != "0"

  let comm: Communicator
  let grads: UnsafeMutablePointer<Float>
  let buckets: [Range<Int>]
  let total: Int  // the whole buffer: gradients and control slots
  /// `dist.compress: fp16` on more than one rank: the buffer as float16, what is summed (nil: float32 as is).
  let half: UnsafeMutablePointer<Float16>?
  /// Seconds spent inside the collectives since the last reset (the "MPI wait" of metrics.jsonl).
  public var waitSeconds = 0.0

  /// `buckets`: ranges of `grads` that together cover it, in the order backward finishes them (the model's
  /// gradient buckets, the control slots in the first).
  public init(
    comm: Communicator, grads: UnsafeMutablePointer<Float>, buckets: [Range<Int>], compress: GradientCompression = .none
  ) {
    self.comm = comm
    self.grads = grads
    self.buckets = buckets
    total = buckets.map(\.upperBound).max() ?? 0
    if compress == .fp16 && comm.size > 1 {  // one rank sends nothing: nothing to round
      half = .allocate(capacity: max(total, 1))
      half!.initialize(repeating: 0, count: max(total, 1))
    } else {
      half = nil
    }
  }

  deinit { half?.deallocate() }

  /// Bucket k's gradients are final: start summing them.
  public func start(_ k: Int) {
    guard GradientExchange.bucketed else { return }
    let t = MonotonicClock.now()
    startSum(buckets[k])
    comm.progress()
    waitSeconds += MonotonicClock.now() - t
  }

  /// Lets the started sums progress (between backward's time steps; MPI_Testall, never a wait).
  public func poll() {
    let t = MonotonicClock.now()
    comm.progress()
    waitSeconds += MonotonicClock.now() - t
  }

  /// Starts every bucket (a rank with no rows in this batch contributes zeros, in the same order).
  public func startAll() { for k in buckets.indices { start(k) } }

  /// Waits for every bucket; the gradients (and control slot) are then the sums over ranks.
  public func finish() {
    let t = MonotonicClock.now()
    if !GradientExchange.bucketed {
      if half != nil { startSum(0..<total) } else { comm.allreduceSum(grads, count: total) }
    }
    comm.waitAll()
    if let half { for i in 0..<total { grads[i] = Float(half[i]) } }
    waitSeconds += MonotonicClock.now() - t
  }

  /// Sums a row-indexed gradient over ranks, moving only the rows each rank touched (an embedding's): every rank
  /// sends its rows (id, then E floats), gathers everyone's in rank order, and rebuilds each touched row as
  /// 0 + rank 0's + rank 1's + ..., the same sums in the same order on every rank. After `finish`. The scratch
  /// grows to the most rows seen (then the step allocates nothing).
  public func sumRows(_ t: TouchedRows) {
    guard comm.size > 1 else { return }
    let started = MonotonicClock.now()
    let E = t.width, record = E + 1, g = grads + t.offset
    let capacity = t.capacity * record
    if rowsSend.count < capacity {
      rowsSend = Buffer(count: capacity); rowsReceive = Buffer(count: capacity * comm.size)
    }
    let send = rowsSend.pointer
    for k in 0..<t.count {
      let id = Int(t.rows[k]), r = send + k * record
      r[0] = Float(id)  // exact: ids are below 2^24 (TokenIds)
      (r + 1).update(from: g + id * E, count: E)
      (g + id * E).update(repeating: 0, count: E)  // rebuilt below from every rank's part, this one's included
    }
    rowCounts.removeAll(keepingCapacity: true); rowOffsets.removeAll(keepingCapacity: true)
    rowCounts.append(contentsOf: repeatElement(0, count: comm.size))
    rowOffsets.append(contentsOf: repeatElement(0, count: comm.size))
    rowCounts.withUnsafeMutableBufferPointer { counts in
      rowOffsets.withUnsafeMutableBufferPointer { offsets in
        comm.allgatherv(
          send, count: t.count * record, receive: rowsReceive.pointer, counts: counts.baseAddress!,
          offsets: offsets.baseAddress!)
      }
    }
    let all = rowsReceive.pointer
    let received = Int(rowOffsets[comm.size - 1] + rowCounts[comm.size - 1]) / record
    for k in 0..<received {  // rank order: the gather's
      let r = all + k * record, row = g + Int(r[0]) * E
      for j in 0..<E { row[j] += r[1 + j] }
    }
    waitSeconds += MonotonicClock.now() - started
  }

  private var rowsSend = Buffer(count: 0), rowsReceive = Buffer(count: 0)
  private var rowCounts: [Int32] = [], rowOffsets: [Int32] = []

  /// Starts the sum of grads[range]: as float32, or (fp16) rounded to float16 first (to nearest; beyond ±65504
  /// becomes ±inf, which the divergence check reports).
  private func startSum(_ range: Range<Int>) {
    guard let half else { return comm.startAllreduceSum(grads + range.lowerBound, count: range.count) }
    for i in range { half[i] = Float16(grads[i]) }
    comm.startAllreduceSum(half + range.lowerBound, count: range.count)
  }
}
