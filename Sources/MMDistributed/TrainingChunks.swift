import MMCore
import MMTensor

/// `dist.world_invariant`: a global batch cut into chunks that do not depend on the world size, each computed
/// whole by one rank, its rows in sampler order.
///
/// Chunk j is rows j·c ..< (j+1)·c of the global batch (c = `size`, the last chunk may be shorter). Whole
/// chunks go to ranks, consecutive chunks to one rank, split by the rows' work (steps) so that the ranks' work is
/// even (ChunkPlan). A chunk's rows are copied as records (RecordSource.writeRecord) into `records`, the rows of
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
    for range in chunks {
      for k in range {
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
/// world size, the same on every rank. Consecutive chunks go to one rank; chunk j goes to the rank whose share
/// of the batch's total work holds the middle of chunk j's work (so W ranks get about Σw / W each, and a chunk
/// never splits).
final class ChunkPlan {
  let world: Int, rank: Int, samples: Int
  let work: [Int32]
  let chunkWork: UnsafeMutablePointer<Int>  // (chunks) Σ steps of each chunk's rows
  let chunkRank: UnsafeMutablePointer<Int>  // (chunks) the rank computing chunk j
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
  }

  deinit { chunkWork.deallocate(); chunkRank.deallocate() }

  @inline(__always) func owner(_ row: Int) -> Int { Sharding.owner(of: row, world: world, count: samples) }
  @inline(__always) func weight(_ row: Int) -> Int { work.isEmpty ? 1 : max(1, Int(work[row])) }
  /// The rank computing batch row k.
  @inline(__always) func destination(_ k: Int) -> Int { chunkRank[k / TrainingChunks.rows] }

  func compute(_ rows: UnsafeBufferPointer<Int>) {
    let B = rows.count, c = TrainingChunks.rows
    chunkCount = TrainingChunks.count(rows: B)
    precondition(chunkCount <= capacity, "batch of \(B) rows, plan made for \(capacity) chunks")
    var total = 0
    for j in 0..<chunkCount {
      var w = 0
      for k in (j * c)..<min((j + 1) * c, B) { w += weight(rows[k]) }
      chunkWork[j] = w; total += w
    }
    // Chunk j's middle, 2·before + w over 2·total, scaled to ranks (exact in integers).
    var before = 0
    for j in 0..<chunkCount {
      chunkRank[j] = min(world - 1, (2 * before + chunkWork[j]) * world / max(2 * total, 1))
      before += chunkWork[j]
    }
    routes.reset()
    for k in 0..<B { routes.add(from: owner(rows[k]), to: destination(k)) }
    routes.finish()
  }
}
