import MMCore
import MMTensor

/// `dist.world_invariant`: a global batch cut into chunks that do not depend on the world size, each computed
/// whole by one rank, its rows in sampler order.
///
/// Chunk j is rows j·c ..< (j+1)·c of the global batch (c = `rows`, the last chunk may be shorter). Whole
/// chunks go to ranks, by the rows' work (steps), so that the ranks' work is even (ChunkPlan). A chunk's rows are copied as records (RecordSource.writeRecord) into `records`, the rows of
/// this rank's chunks one after another in sampler order: the rows of this rank directly, the others' received
/// in one MPI_Alltoallv (none on one rank). So a chunk's model batch is the same on every world size, and with the
/// same shapes every kernel gives it the same bits (EvaluationChunks explains why a row's GEMM result depends on
/// its batch-mates). Allocates nothing per step once the buffers have grown to the largest step.
public final class TrainingChunks {
  /// Rows per chunk (the last chunk of a batch may be shorter).
  public static let rows = 8

  let comm: Communicator
  let shard: RecordSource
  let plan: ChunkPlan
  let recordFloats: Int
  private var sendBuffer: Buffer
  private var receiveBuffer: Buffer
  private var staged: Buffer
  private let cursor: UnsafeMutablePointer<Int>  // (W) the next received record from each rank
  /// This rank's chunks of the current batch, as batch positions (ascending), and where each starts in `records`.
  public private(set) var chunks: [Range<Int>] = []
  /// Rows of this rank's chunks, as records, in sampler order (chunk after chunk).
  public var records: UnsafePointer<Float> { UnsafePointer(staged.pointer) }
  /// Rows received from other ranks since the last reset (metrics.jsonl `balance_moved`, summed over ranks).
  public var movedRows = 0
  /// Seconds inside the exchange since the last reset (part of metrics.jsonl `mpi_wait_s`).
  public var waitSeconds = 0.0

  /// `work[row]`: the steps of every row of the file (BatchBalancer.rowWork; empty: every row weighs 1).
  public init(comm: Communicator, shard: RecordSource, samples: Int, work: [Int32], batchSize: Int) {
    self.comm = comm; self.shard = shard
    plan = ChunkPlan(world: comm.size, rank: comm.rank, samples: samples, work: work, batchSize: batchSize)
    recordFloats = shard.recordFloats
    let share = (batchSize + comm.size - 1) / comm.size + TrainingChunks.rows
    sendBuffer = Buffer(count: comm.size > 1 ? share * recordFloats : 0)
    receiveBuffer = Buffer(count: comm.size > 1 ? share * recordFloats : 0)
    staged = Buffer(count: min(batchSize, share) * recordFloats)
    cursor = .allocate(capacity: comm.size)
    cursor.initialize(repeating: 0, count: comm.size)
    chunks.reserveCapacity((batchSize + TrainingChunks.rows - 1) / TrainingChunks.rows)
  }

  deinit { cursor.deallocate() }

  /// Chunks in a global batch of `rows` rows.
  public static func count(rows: Int) -> Int { (rows + TrainingChunks.rows - 1) / TrainingChunks.rows }

  /// This rank's chunks of global batch `rows` (sampler order): `chunks` and `records` (collective when a
  /// row moves).
  public func take(_ rows: UnsafeBufferPointer<Int>) {
    plan.compute(rows)
    let routes = plan.routes, me = plan.rank, lower = shard.rows.lowerBound
    chunks.removeAll(keepingCapacity: true)
    var mine = 0
    for j in 0..<plan.chunkCount where plan.chunkRank[j] == me {
      let range = (j * TrainingChunks.rows)..<min((j + 1) * TrainingChunks.rows, rows.count)
      chunks.append(range)
      mine += range.count
    }
    if staged.count < mine * recordFloats { staged = Buffer(count: mine * recordFloats) }  // rare
    if routes.moves {
      if sendBuffer.count < routes.sendTotal * recordFloats {
        sendBuffer = Buffer(count: routes.sendTotal * recordFloats)
      }
      if receiveBuffer.count < routes.receiveTotal * recordFloats {
        receiveBuffer = Buffer(count: routes.receiveTotal * recordFloats)
      }
      for k in 0..<rows.count where shard.owns(rows[k]) {
        let q = plan.destination(k)
        if q != me {
          shard.writeRecord(rows[k] - lower, to: sendBuffer.pointer + routes.sendSlot(to: q) * recordFloats)
        }
      }
      movedRows += routes.receiveTotal
      let t = MonotonicClock.now()
      routes.exchange(comm, send: sendBuffer.pointer, receive: receiveBuffer.pointer, recordFloats: recordFloats)
      waitSeconds += MonotonicClock.now() - t
    }
    // This rank's rows in sampler order: its own written here, the others' from the receive buffer (by source
    // rank, each source's in batch order: RecordRoutes).
    for q in 0..<plan.world { cursor[q] = Int(routes.receiveOffsets[q]) }
    var slot = 0
    for c in 0..<chunks.count {  // (indices, not the array's iterator: nothing allocates, even unoptimised)
      for k in chunks[c] {
        let out = staged.pointer + slot * recordFloats
        if shard.owns(rows[k]) {
          shard.writeRecord(rows[k] - lower, to: out)
        } else {
          let q = plan.owner(rows[k])
          out.update(from: receiveBuffer.pointer + cursor[q] * recordFloats, count: recordFloats)
          cursor[q] += 1
        }
        slot += 1
      }
    }
  }
}

/// Which rank computes which chunk of a global batch: a pure function of the batch, the rows' work and the
/// world size, the same on every rank. Longest processing time first: the chunks by work (Σ steps of their
/// rows), largest first (ties: the earlier chunk), each to the least loaded rank (ties: the lower rank), so
/// the ranks' work ends within one chunk's of each other (at equal lengths, ⌊C/W⌋ or ⌈C/W⌉ chunks each).
final class ChunkPlan {
  let world: Int, rank: Int, samples: Int
  let work: [Int32]
  let chunkWork: UnsafeMutablePointer<Int>  // (chunks) Σ steps of each chunk's rows
  let chunkRank: UnsafeMutablePointer<Int>  // (chunks) the rank computing chunk j
  let byWork: UnsafeMutablePointer<Int>  // (chunks) chunk indices, largest work first
  let loads: UnsafeMutablePointer<Int>  // (W) work assigned
  let routes: RecordRoutes
  let capacity: Int
  private(set) var chunkCount = 0

  init(world: Int, rank: Int, samples: Int, work: [Int32], batchSize: Int) {
    precondition(work.isEmpty || work.count == samples, "work of \(work.count) rows for \(samples) samples")
    self.world = world; self.rank = rank; self.samples = samples; self.work = work
    routes = RecordRoutes(world: world, rank: rank)
    capacity = max(TrainingChunks.count(rows: batchSize), 1)
    chunkWork = .allocate(capacity: capacity); chunkWork.initialize(repeating: 0, count: capacity)
    chunkRank = .allocate(capacity: capacity); chunkRank.initialize(repeating: 0, count: capacity)
    byWork = .allocate(capacity: capacity); byWork.initialize(repeating: 0, count: capacity)
    loads = .allocate(capacity: world); loads.initialize(repeating: 0, count: world)
  }

  deinit { chunkWork.deallocate(); chunkRank.deallocate(); byWork.deallocate(); loads.deallocate() }

  @inline(__always) func owner(_ row: Int) -> Int { Sharding.owner(of: row, world: world, count: samples) }
  @inline(__always) func weight(_ row: Int) -> Int { work.isEmpty ? 1 : max(1, Int(work[row])) }
  /// The rank computing batch row k.
  @inline(__always) func destination(_ k: Int) -> Int { chunkRank[k / TrainingChunks.rows] }

  func compute(_ rows: UnsafeBufferPointer<Int>) {
    let B = rows.count, c = TrainingChunks.rows, C = TrainingChunks.count(rows: B)
    chunkCount = C
    precondition(C <= capacity, "batch of \(B) rows, plan made for \(capacity) chunks")
    for j in 0..<C {
      var w = 0
      for k in (j * c)..<min((j + 1) * c, B) { w += weight(rows[k]) }
      chunkWork[j] = w
    }
    // Chunks by work, largest first, earlier first among equals (insertion sort: a batch has few chunks).
    for j in 0..<C {
      var i = j
      while i > 0 && chunkWork[byWork[i - 1]] < chunkWork[j] {
        byWork[i] = byWork[i - 1]
        i -= 1
      }
      byWork[i] = j
    }
    loads.update(repeating: 0, count: world)
    for i in 0..<C {
      let j = byWork[i]
      var best = 0
      for q in 1..<world where loads[q] < loads[best] { best = q }
      chunkRank[j] = best
      loads[best] += chunkWork[j]
    }
    routes.reset()
    for k in 0..<B { routes.add(from: owner(rows[k]), to: destination(k)) }
    routes.finish()
  }
}
