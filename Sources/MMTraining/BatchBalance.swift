import Foundation
import MMData
import MMDistributed
import MMTensor

/// Even local batches at every world size, without changing which rows a step trains on.
///
/// The global batch is a random set of rows (EpochSampler), and each rank owns a contiguous shard, so the
/// rows of one batch fall unevenly on the ranks: with 64 rows over 2 shards the larger part averages 1.1 x 32,
/// and every step waits for it (the lock-step). The balancer moves the surplus: every rank computes the same
/// plan from the batch alone (no communication), rank r processes `target[r]` = ⌊B/W⌋ or ⌈B/W⌉ rows, keeping
/// the first of its own rows in batch order and sending the rest, as fixed-size records (`Shard.record`), to the
/// ranks short of rows (one MPI_Alltoallv; none at all when the batch already splits evenly).
///
/// The loss is the same sum over the same rows (scaled by the global count as before), and dropout masks are
/// seeded by the global sample index a record carries, so results do not depend on which rank computed a row;
/// only the order of float sums differs (as between world sizes already). `MMTRAIN_BALANCE=0` turns it off
/// (each rank takes only its own rows: the benchmark's "before").
final class BatchBalancer {
  static let enabled = ProcessInfo.processInfo.environment["MMTRAIN_BALANCE"] != "0"

  let comm: Communicator
  let plan: BalancePlan
  let shard: Shard
  let recordFloats: Int
  /// Records this rank sends (grown on demand: at most its surplus) and receives (at most ⌈B/W⌉).
  private var sendBuffer: Buffer
  let receiveBuffer: Buffer
  /// Local indices of the own rows this rank processes, then `received` records: the local batch.
  private(set) var kept: [Int] = []
  private(set) var received = 0
  /// Rows received by this rank since the last reset (metrics.jsonl `balance_moved`, summed over ranks).
  var movedRows = 0
  /// Seconds inside the exchange since the last reset (part of metrics.jsonl `mpi_wait_s`).
  var waitSeconds = 0.0

  init(comm: Communicator, shard: Shard, samples: Int, batchSize: Int) {
    self.comm = comm; self.shard = shard
    plan = BalancePlan(world: comm.size, rank: comm.rank, samples: samples)
    recordFloats = shard.recordFloats
    let most = (batchSize + comm.size - 1) / comm.size
    sendBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    receiveBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    kept.reserveCapacity(batchSize)
  }

  var count: Int { kept.count + received }
  var records: UnsafePointer<Float> { UnsafePointer(receiveBuffer.pointer) }

  /// This rank's part of global batch `rows`: `kept` and `received` (collective when any row moves).
  func take(_ rows: UnsafeBufferPointer<Int>) {
    kept.removeAll(keepingCapacity: true)
    received = 0
    let lower = shard.rows.lowerBound
    guard comm.size > 1, BatchBalancer.enabled else {
      for k in 0..<rows.count where shard.owns(rows[k]) { kept.append(rows[k] - lower) }
      return
    }
    plan.compute(rows)
    // Own rows in batch order: the first `target` are kept, the rest are sent in plan order.
    let keep = plan.target(plan.rank)
    var sent = 0
    if plan.surplus(plan.rank) > 0, sendBuffer.count < plan.surplus(plan.rank) * recordFloats {
      sendBuffer = Buffer(count: plan.surplus(plan.rank) * recordFloats)  // rare: grows to the largest surplus seen
    }
    for k in 0..<rows.count where shard.owns(rows[k]) {
      if kept.count < keep { kept.append(rows[k] - lower); continue }
      shard.writeRecord(rows[k] - lower, to: sendBuffer.pointer + sent * recordFloats)
      sent += 1
    }
    if !plan.moves { return }
    received = plan.receiveTotal
    movedRows += received
    let t = RunTiming.now()
    defer { waitSeconds += RunTiming.now() - t }
    comm.exchange(send: UnsafePointer(sendBuffer.pointer), sendCounts: plan.sendCounts, sendOffsets: plan.sendOffsets,
                  receive: receiveBuffer.pointer, receiveCounts: plan.receiveCounts, receiveOffsets: plan.receiveOffsets,
                  recordFloats: recordFloats)
  }
}

/// Who processes which rows of a global batch: a pure function of the batch and the shard layout, computed the
/// same on every rank. Rank r owns `count[r]` of the batch's B rows and processes `target[r]` of them: ⌊B/W⌋,
/// plus one for the B mod W ranks owning the most (ties: the lower rank), so as few rows as possible move.
/// Ranks with a surplus, in rank order, send their last own rows (in batch order) to the ranks short of rows,
/// in rank order. Counts and offsets are in records, by rank, for MPI_Alltoallv; allocated once.
final class BalancePlan {
  let world: Int, rank: Int
  let starts: [Int]  // (W + 1) first global row of each rank's shard (Sharding.rows), then N
  let counts, targets: UnsafeMutablePointer<Int>              // (W)
  let sendCounts, sendOffsets, receiveCounts, receiveOffsets: UnsafeMutablePointer<Int32>  // (W)
  private(set) var moves = false
  private(set) var receiveTotal = 0

  init(world: Int, rank: Int, samples n: Int) {
    self.world = world; self.rank = rank
    starts = (0..<world).map { Sharding.rows(rank: $0, world: world, count: n).lowerBound } + [n]
    counts = .allocate(capacity: world); targets = .allocate(capacity: world)
    counts.initialize(repeating: 0, count: world); targets.initialize(repeating: 0, count: world)
    sendCounts = .allocate(capacity: world); sendOffsets = .allocate(capacity: world)
    receiveCounts = .allocate(capacity: world); receiveOffsets = .allocate(capacity: world)
    for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.initialize(repeating: 0, count: world) }
  }

  deinit {
    counts.deallocate(); targets.deallocate()
    for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.deallocate() }
  }

  /// The rank owning global row `row` (binary search over the shard starts).
  @inline(__always) func owner(_ row: Int) -> Int {
    var lo = 0, hi = world - 1
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if starts[mid] <= row { lo = mid } else { hi = mid - 1 }
    }
    return lo
  }

  @inline(__always) func target(_ r: Int) -> Int { targets[r] }
  @inline(__always) func surplus(_ r: Int) -> Int { max(0, counts[r] - targets[r]) }

  func compute(_ rows: UnsafeBufferPointer<Int>) {
    let W = world, B = rows.count
    counts.update(repeating: 0, count: W)
    for k in 0..<B { counts[owner(rows[k])] += 1 }
    let base = B / W, extra = B % W
    for r in 0..<W {  // r's place when ranks are ordered by count, most first (ties: lower rank first)
      var place = 0
      for q in 0..<W where counts[q] > counts[r] || (counts[q] == counts[r] && q < r) { place += 1 }
      targets[r] = base + (place < extra ? 1 : 0)
    }
    sendCounts.update(repeating: 0, count: W)
    receiveCounts.update(repeating: 0, count: W)
    moves = false
    // Two pointers: surplus ranks s ascending hand their rows to deficit ranks d ascending.
    var s = 0, d = 0, left = 0, need = 0
    while true {
      while left == 0 && s < W { left = max(0, counts[s] - targets[s]); if left == 0 { s += 1 } }
      while need == 0 && d < W { need = max(0, targets[d] - counts[d]); if need == 0 { d += 1 } }
      if s >= W || d >= W { break }
      let n = min(left, need)
      moves = true
      if s == rank { sendCounts[d] += Int32(n) }
      if d == rank { receiveCounts[s] += Int32(n) }
      left -= n; need -= n
      if left == 0 { s += 1 }
      if need == 0 { d += 1 }
    }
    var so: Int32 = 0, ro: Int32 = 0
    for r in 0..<W {
      sendOffsets[r] = so; so += sendCounts[r]
      receiveOffsets[r] = ro; ro += receiveCounts[r]
    }
    receiveTotal = Int(ro)
  }
}
