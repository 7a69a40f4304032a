import MMData
import MMDistributed
import MMModel
import MMTensor

/// Evaluation batches whose make-up does not depend on the world size, so that evaluate, predict and the
/// validation metrics are the same to the last bit on any number of ranks.
///
/// A BLAS kernel's result for one row can depend on the other rows of the product: OpenBLAS's Haswell sgemm,
/// for one, computes the rows of an M-block's tail with other micro-kernels that add in another order. So
/// "each rank evaluates its own rows in batches" gives last-bit differences between world sizes. Instead the
/// rows to evaluate (ascending) are cut into chunks of `model.maxBatch` (a function of the config and the file
/// only), and each chunk is evaluated by the rank owning its first row. Only a chunk that runs past the end of
/// that rank's shard needs rows of other ranks: they are sent to it first, as records (`Shard.writeRecord`), in
/// one MPI_Alltoallv (none when no chunk crosses a shard boundary). Every rank computes the same plan.
extension Trainer {
  /// Calls `body` with every chunk this rank evaluates, gathered (rows in ascending order; `ModelBatch.samples`
  /// holds their global ids). `rows`: global ids, ascending. Collective.
  func forEachEvaluationChunk(_ rows: [Int], _ body: (ModelBatch) -> Void) {
    let size = model.maxBatch, W = comm.size, me = comm.rank
    let starts = (0..<W).map { Sharding.rows(rank: $0, world: W, count: schema.count).lowerBound }
    let owner = { (row: Int) in starts.lastIndex { $0 <= row }! }
    let chunkOwner = { (i: Int) in owner(rows[i / size * size]) }
    // Rows that move: owned by one rank, in a chunk another rank evaluates.
    var send = [Int32](repeating: 0, count: W), receive = send
    var moves = false
    for i in rows.indices {
      let holder = owner(rows[i]), evaluator = chunkOwner(i)
      if holder == evaluator { continue }
      moves = true
      if holder == me { send[evaluator] += 1 }
      if evaluator == me { receive[holder] += 1 }
    }
    let recordFloats = shard.recordFloats
    let sent = Int(send.reduce(0, +)), received = Int(receive.reduce(0, +))
    let records = Buffer(count: moves ? max(received, 1) * recordFloats : 0)
    if moves {
      let outgoing = Buffer(count: max(sent, 1) * recordFloats)
      var k = 0
      for i in rows.indices where owner(rows[i]) == me && chunkOwner(i) != me {  // ascending, so by evaluator
        shard.writeRecord(rows[i] - shard.rows.lowerBound, to: outgoing.pointer + k * recordFloats)
        k += 1
      }
      let offsets = { (c: [Int32]) in c.indices.map { Int32(c[..<$0].reduce(0, +)) } }
      send.withUnsafeBufferPointer { sc in receive.withUnsafeBufferPointer { rc in
        offsets(send).withUnsafeBufferPointer { so in offsets(receive).withUnsafeBufferPointer { ro in
          comm.exchange(send: outgoing.pointer, sendCounts: sc.baseAddress!, sendOffsets: so.baseAddress!, receive: records.pointer,
                        receiveCounts: rc.baseAddress!, receiveOffsets: ro.baseAddress!, recordFloats: recordFloats)
        } }
      } }
    }
    // This rank's chunks: its own rows first (ascending), then, in the last one only, the received rows (ranks
    // above, in rank order: still ascending).
    let mine = stride(from: 0, to: rows.count, by: size).filter { owner(rows[$0]) == me }
    var local: [Int] = []
    local.reserveCapacity(size)
    for (n, start) in mine.enumerated() {
      local.removeAll(keepingCapacity: true)
      for i in start..<min(start + size, rows.count) where shard.owns(rows[i]) { local.append(rows[i] - shard.rows.lowerBound) }
      let extra = n == mine.count - 1 ? received : 0
      let mb = local.withUnsafeBufferPointer {
        batch.gather($0, records: extra > 0 ? UnsafePointer(records.pointer) : nil, recordCount: extra, from: shard)
      }
      body(mb)
    }
  }
}
