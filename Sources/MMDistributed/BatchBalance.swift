import Foundation
import MMCore
import MMTensor

/// Even local batches at every world size, without changing which rows a step trains on.
///
/// The global batch is a random set of rows (EpochSampler), and each rank owns a contiguous shard, so the
/// rows of one batch fall unevenly on the ranks: with 64 rows over 2 shards the larger part averages 1.1 x 32,
/// and every step waits for it (the lock-step). With sequences of different lengths the work (Σ steps) is
/// more uneven still. The balancer moves the surplus: every rank computes the same plan from the batch and the
/// rows' lengths (no communication; BalancePlan), keeps what it can of its own rows and sends the rest, as
/// fixed-size records (RecordSource.writeRecord), to the ranks short of work (one MPI_Alltoallv; none at all when
/// the batch already splits evenly).
///
/// The loss is the same sum over the same rows (scaled by the global count as before), and dropout masks are
/// seeded by the global sample index a record carries, so results do not depend on which rank computed a row;
/// only the order of float sums differs (as between world sizes already). `MMTRAIN_BALANCE=0` turns it off
/// (each rank takes only its own rows: the benchmark's "before").
public final class BatchBalancer {
  public static let enabled = ProcessInfo.processInfo.environment["MMTRAIN_BALANCE"] != "0"

  let comm: Communicator
  let plan: BalancePlan
  let shard: RecordSource
  let recordFloats: Int
  /// Records this rank sends and receives, grown on demand (to the most seen; about ⌈B/W⌉ at equal lengths).
  private var sendBuffer: Buffer
  private var receiveBuffer: Buffer
  /// Local indices of the own rows this rank processes, then `received` records: the local batch.
  public private(set) var kept: [Int] = []
  public private(set) var received = 0
  /// Rows received by this rank since the last reset (metrics.jsonl `balance_moved`, summed over ranks).
  public var movedRows = 0
  /// Seconds inside the exchange since the last reset (part of metrics.jsonl `mpi_wait_s`).
  public var waitSeconds = 0.0

  /// `work[row]`: the steps of every row of the file (its fused length), the same on every rank.
  public init(comm: Communicator, shard: RecordSource, samples: Int, work: [Int32], batchSize: Int) {
    self.comm = comm; self.shard = shard
    plan = BalancePlan(world: comm.size, rank: comm.rank, samples: samples, work: work, batchSize: batchSize)
    recordFloats = shard.recordFloats
    let most = (batchSize + comm.size - 1) / comm.size
    sendBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    receiveBuffer = Buffer(count: comm.size > 1 ? most * recordFloats : 0)
    kept.reserveCapacity(batchSize)
  }

  /// The steps of every row (fused length), gathered once from the shards (collective; an empty array on one
  /// rank or with balancing off, where no plan is made).
  public static func rowWork(_ shard: RecordSource, samples: Int, comm: Communicator) -> [Int32] {
    guard comm.size > 1, enabled else { return [] }
    // Float: exact for lengths below 2^24, and half the bytes of Double for a file of many rows.
    let lengths = Buffer(count: samples)
    for i in 0..<shard.rows.count { lengths[shard.rows.lowerBound + i] = Float(shard.work(i)) }
    comm.allreduceSum(lengths.pointer, count: samples)
    return (0..<samples).map { Int32(lengths[$0]) }
  }

  public var count: Int { kept.count + received }
  public var records: UnsafePointer<Float> { UnsafePointer(receiveBuffer.pointer) }

  /// This rank's part of global batch `rows`: `kept` and `received` (collective when any row moves).
  public func take(_ rows: UnsafeBufferPointer<Int>) {
    kept.removeAll(keepingCapacity: true)
    received = 0
    let lower = shard.rows.lowerBound
    guard comm.size > 1, BatchBalancer.enabled else {
      for k in 0..<rows.count where shard.owns(rows[k]) { kept.append(rows[k] - lower) }
      return
    }
    plan.compute(rows)
    let routes = plan.routes
    if sendBuffer.count < routes.sendTotal * recordFloats {
      sendBuffer = Buffer(count: routes.sendTotal * recordFloats)
    }  // rare
    if receiveBuffer.count < routes.receiveTotal * recordFloats {
      receiveBuffer = Buffer(count: routes.receiveTotal * recordFloats)
    }
    // Kept rows in batch order; the sent ones into their destination's run of the send buffer.
    for k in 0..<rows.count where shard.owns(rows[k]) {
      let q = plan.destination[k]
      if q == plan.rank { kept.append(rows[k] - lower); continue }
      shard.writeRecord(rows[k] - lower, to: sendBuffer.pointer + routes.sendSlot(to: q) * recordFloats)
    }
    if !routes.moves { return }
    received = routes.receiveTotal
    movedRows += received
    let t = MonotonicClock.now()
    defer { waitSeconds += MonotonicClock.now() - t }
    routes.exchange(comm, send: sendBuffer.pointer, receive: receiveBuffer.pointer, recordFloats: recordFloats)
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
/// records, by rank, in `routes` (MPI_Alltoallv).
public final class BalancePlan {
  let world: Int, rank: Int, samples: Int
  let work: [Int32]  // (N) steps of each row (≥ 1 counts as 1)
  let loads: UnsafeMutablePointer<Int>  // (W) work assigned
  let giving: UnsafeMutablePointer<Bool>  // (W) the rank has rows left over after 1
  let destination: UnsafeMutablePointer<Int>  // (B) rank processing batch row k
  let routes: RecordRoutes
  let batchCapacity: Int

  init(world: Int, rank: Int, samples: Int, work: [Int32], batchSize: Int) {
    precondition(work.isEmpty || work.count == samples, "work of \(work.count) rows for \(samples) samples")
    self.world = world; self.rank = rank; self.samples = samples; self.work = work
    routes = RecordRoutes(world: world, rank: rank)
    batchCapacity = max(batchSize, 1)
    loads = .allocate(capacity: world); loads.initialize(repeating: 0, count: world)
    giving = .allocate(capacity: world); giving.initialize(repeating: false, count: world)
    destination = .allocate(capacity: batchCapacity)
    destination.initialize(repeating: 0, count: batchCapacity)
  }

  deinit {
    loads.deallocate(); destination.deallocate(); giving.deallocate()
  }

  @inline(__always) func owner(_ row: Int) -> Int { Sharding.owner(of: row, world: world, count: samples) }

  /// A row's work: its steps (every row 1 when no lengths were given).
  @inline(__always) func weight(_ row: Int) -> Int { work.isEmpty ? 1 : max(1, Int(work[row])) }

  func compute(_ rows: UnsafeBufferPointer<Int>) {
    let W = world, B = rows.count
    precondition(B <= batchCapacity, "batch of \(B) rows, plan made for \(batchCapacity)")
    loads.update(repeating: 0, count: W)
    giving.update(repeating: false, count: W)
    var total = 0
    for k in 0..<B { total += weight(rows[k]) }
    // 1. Own rows that fit under the mean (compared as load·W ≤ total: exact in integers).
    for k in 0..<B {
      let r = owner(rows[k]), w = weight(rows[k])
      if (loads[r] + w) * W <= total {
        loads[r] += w; destination[k] = r
      } else {
        destination[k] = -1; giving[r] = true
      }
    }
    // 2. The rest to the least loaded of the owner and the ranks with nothing left over (ties: the owner, else
    //    the lower rank).
    for k in 0..<B where destination[k] < 0 {
      var best = owner(rows[k])
      for q in 0..<W where !giving[q] && loads[q] < loads[best] { best = q }
      destination[k] = best
      loads[best] += weight(rows[k])
    }
    routes.reset()
    for k in 0..<B { routes.add(from: owner(rows[k]), to: destination[k]) }
    routes.finish()
  }
}

/// The rows a rank owns, as the record exchanges see them (MMData's Shard): which rows, how much work each
/// is, and a row written as one fixed-size record of `recordFloats` floats.
public protocol RecordSource: AnyObject {
  /// Global row ids owned by this rank.
  var rows: Range<Int> { get }
  var recordFloats: Int { get }
  /// Local row `i`'s work: its steps (fused length).
  func work(_ i: Int) -> Int32
  /// Writes local row `i` as a record into `out`.
  func writeRecord(_ i: Int, to out: UnsafeMutablePointer<Float>)
}

extension RecordSource {
  @inline(__always) public func owns(_ row: Int) -> Bool { rows.contains(row) }
}
