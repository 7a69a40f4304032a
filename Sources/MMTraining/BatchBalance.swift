import Foundation
import MMData
import MMDistributed
import MMTensor

/// Even local batches at every world size, without changing which rows a step trains on.
///
/// The global batch is a random set of rows (EpochSampler), and each rank owns a contiguous shard, so the
/// rows of one batch fall unevenly on the ranks: with 64 rows over 2 shards the larger part averages 1.1 x 32,
/// and every step waits for it (the lock-step). With sequences of different lengths the work (Σ steps) is
/// more uneven still. The balancer moves the surplus: every rank computes the same plan from the batch and the
/// rows' lengths (no communication; BalancePlan), keeps what it can of its own rows and sends the rest, as
/// fixed-size records (`Shard.writeRecord`), to the ranks short of work (one MPI_Alltoallv; none at all when
/// the batch already splits evenly).
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
  /// Records this rank sends and receives, grown on demand (to the most seen; about ⌈B/W⌉ at equal lengths).
  private var sendBuffer: Buffer
  private var receiveBuffer: Buffer
  /// Local indices of the own rows this rank processes, then `received` records: the local batch.
  private(set) var kept: [Int] = []
  private(set) var received = 0
  /// Rows received by this rank since the last reset (metrics.jsonl `balance_moved`, summed over ranks).
  var movedRows = 0
  /// Seconds inside the exchange since the last reset (part of metrics.jsonl `mpi_wait_s`).
  var waitSeconds = 0.0

  /// `work[row]`: the steps of every row of the file (its fused length), the same on every rank.
  init(comm: Communicator, shard: Shard, work: [Int32], batchSize: Int) {
    self.comm = comm; self.shard = shard
    plan = BalancePlan(world: comm.size, rank: comm.rank, work: work, batchSize: batchSize)
    recordFloats = shard.recordFloats
    let most = (batchSize + comm.size - 1) / comm.size
    sendBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    receiveBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    kept.reserveCapacity(batchSize)
  }

  /// The steps of every row (fused length), gathered once from the shards (collective; an empty array on one
  /// rank or with balancing off, where no plan is made).
  static func rowWork(_ shard: Shard, samples: Int, comm: Communicator) -> [Int32] {
    guard comm.size > 1, enabled else { return [] }
    // Float: exact for lengths below 2^24, and half the bytes of Double for a file of many rows.
    let lengths = Buffer(count: samples)
    for i in 0..<shard.count { lengths[shard.rows.lowerBound + i] = Float(shard.lengths[i]) }
    comm.allreduceSum(lengths.pointer, count: samples)
    return (0..<samples).map { Int32(lengths[$0]) }
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
    let me = plan.rank
    let sending = Int(plan.sendOffsets[plan.world - 1] + plan.sendCounts[plan.world - 1])
    if sendBuffer.count < sending * recordFloats { sendBuffer = Buffer(count: sending * recordFloats) }  // rare
    if receiveBuffer.count < plan.receiveTotal * recordFloats { receiveBuffer = Buffer(count: plan.receiveTotal * recordFloats) }
    // Kept rows in batch order; sent ones by destination (then batch order), at the plan's offsets.
    let next = plan.cursor
    for q in 0..<plan.world { next[q] = Int(plan.sendOffsets[q]) }
    for k in 0..<rows.count where shard.owns(rows[k]) {
      let q = plan.destination[k]
      if q == me { kept.append(rows[k] - lower); continue }
      shard.writeRecord(rows[k] - lower, to: sendBuffer.pointer + next[q] * recordFloats)
      next[q] += 1
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

/// Who processes which rows of a global batch: a pure function of the batch, the rows' work (steps) and the
/// shard layout, computed the same on every rank; allocated once.
///
/// 1. Each rank keeps its own rows, in batch order, while they fit under the mean work Σw / W (first fit).
/// 2. The rest, in batch order, each go to the least loaded of: the row's owner, and the ranks that kept all
///    their rows in 1 (ties: the owner, so the row stays, else the lower rank).
///
/// So no rank both sends and receives, and the ranks' work ends within two rows' w of each other. At equal
/// lengths every rank processes ⌊B/W⌋ or ⌈B/W⌉ rows and only the surplus moves. Counts and offsets are in
/// records, by rank, for MPI_Alltoallv.
final class BalancePlan {
  let world: Int, rank: Int
  let starts: [Int]   // (W + 1) first global row of each rank's shard (Sharding.rows), then N
  let work: [Int32]   // (N) steps of each row (≥ 1 counts as 1)
  let counts, loads: UnsafeMutablePointer<Int>                  // (W) own rows in the batch; work assigned
  let giving: UnsafeMutablePointer<Bool>                        // (W) the rank has rows left over after 1
  let destination: UnsafeMutablePointer<Int>                    // (B) rank processing batch row k
  let cursor: UnsafeMutablePointer<Int>                         // (W) scratch for the caller's packing
  let sendCounts, sendOffsets, receiveCounts, receiveOffsets: UnsafeMutablePointer<Int32>  // (W)
  let batchCapacity: Int
  private(set) var moves = false
  private(set) var receiveTotal = 0

  init(world: Int, rank: Int, work: [Int32], batchSize: Int) {
    self.world = world; self.rank = rank; self.work = work
    let n = work.count
    starts = (0..<world).map { Sharding.rows(rank: $0, world: world, count: n).lowerBound } + [n]
    batchCapacity = max(batchSize, 1)
    counts = .allocate(capacity: world); loads = .allocate(capacity: world); cursor = .allocate(capacity: world)
    giving = .allocate(capacity: world); giving.initialize(repeating: false, count: world)
    destination = .allocate(capacity: batchCapacity)
    destination.initialize(repeating: 0, count: batchCapacity)
    sendCounts = .allocate(capacity: world); sendOffsets = .allocate(capacity: world)
    receiveCounts = .allocate(capacity: world); receiveOffsets = .allocate(capacity: world)
    for p in [counts, loads, cursor] { p.initialize(repeating: 0, count: world) }
    for p in [sendCounts, sendOffsets, receiveCounts, receiveOffsets] { p.initialize(repeating: 0, count: world) }
  }

  deinit {
    for p in [counts, loads, cursor, destination] { p.deallocate() }
    giving.deallocate()
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

  @inline(__always) func weight(_ row: Int) -> Int { max(1, Int(work[row])) }

  func compute(_ rows: UnsafeBufferPointer<Int>) {
    let W = world, B = rows.count
    precondition(B <= batchCapacity, "batch of \(B) rows, plan made for \(batchCapacity)")
    counts.update(repeating: 0, count: W)
    loads.update(repeating: 0, count: W)
    giving.update(repeating: false, count: W)
    var total = 0
    for k in 0..<B { total += weight(rows[k]) }
    // 1. Own rows that fit under the mean (compared as load·W ≤ total: exact in integers).
    for k in 0..<B {
      let r = owner(rows[k]), w = weight(rows[k])
      counts[r] += 1
      if (loads[r] + w) * W <= total { loads[r] += w; destination[k] = r } else { destination[k] = -1; giving[r] = true }
    }
    // 2. The rest to the least loaded of the owner and the ranks with nothing left over (ties: the owner, else
    //    the lower rank).
    moves = false
    for k in 0..<B where destination[k] < 0 {
      let r = owner(rows[k])
      var best = r
      for q in 0..<W where !giving[q] && loads[q] < loads[best] { best = q }
      destination[k] = best
      loads[best] += weight(rows[k])
      if best != r { moves = true }
    }
    sendCounts.update(repeating: 0, count: W)
    receiveCounts.update(repeating: 0, count: W)
    for k in 0..<B {
      let r = owner(rows[k]), q = destination[k]
      if r == q { continue }
      if r == rank { sendCounts[q] += 1 }
      if q == rank { receiveCounts[r] += 1 }
    }
    var so: Int32 = 0, ro: Int32 = 0
    for r in 0..<W {
      sendOffsets[r] = so; so += sendCounts[r]
      receiveOffsets[r] = ro; ro += receiveCounts[r]
    }
    receiveTotal = Int(ro)
  }
}
