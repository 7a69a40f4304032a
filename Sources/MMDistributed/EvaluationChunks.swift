import MMCore
import MMTensor

/// Evaluation batches whose make-up does not depend on the world size, so that evaluate, predict and the
/// validation metrics are the same to the last bit on any number of ranks.
///
/// A BLAS kernel's result for one row can depend on the other rows of the product: OpenBLAS's Haswell sgemm,
/// for one, computes the rows of an M-block's tail with other micro-kernels that add in another order. So
/// "each rank evaluates its own rows in batches" gives last-bit differences between world sizes. Instead the
/// rows to evaluate (ascending) are cut into chunks of `model.maxBatch` (a function of the config and the file
/// only), and each chunk is evaluated by the rank owning its first row. Only a chunk that runs past the end of
/// that rank's shard needs rows of other ranks: they are sent to it first, as records (RecordSource.writeRecord), in
/// one MPI_Alltoallv (none when no chunk crosses a shard boundary). Every rank computes the same plan.
public enum EvaluationChunks {
  /// Calls `body` with every chunk this rank evaluates: its own rows of the chunk (local indices, ascending),
  /// then, in its last chunk only, the records received from other ranks. `rows`: global ids, ascending; `size`:
  /// the chunk length (a function of the config and the file only); `samples`: the file's row count. Collective.
  public static func forEach(
    _ rows: [Int], size: Int, samples n: Int, source: RecordSource, comm: Communicator,
    _ body: (_ local: UnsafeBufferPointer<Int>, _ records: UnsafePointer<Float>?, _ recordCount: Int) -> Void
  ) {
    let W = comm.size, me = comm.rank, lower = source.rows.lowerBound
    let owner = { (row: Int) in Sharding.owner(of: row, world: W, count: n) }
    let evaluator = { (i: Int) in owner(rows[i / size * size]) }  // the owner of row i's chunk's first row
    let routes = RecordRoutes(world: W, rank: me)
    for i in rows.indices { routes.add(from: owner(rows[i]), to: evaluator(i)) }
    routes.finish()
    let recordFloats = source.recordFloats
    let records = Buffer(count: routes.moves ? max(routes.receiveTotal, 1) * recordFloats : 0)
    if routes.moves {
      let outgoing = Buffer(count: max(routes.sendTotal, 1) * recordFloats)
      for i in rows.indices where source.owns(rows[i]) && evaluator(i) != me {
        source.writeRecord(rows[i] - lower, to: outgoing.pointer + routes.sendSlot(to: evaluator(i)) * recordFloats)
      }
      routes.exchange(comm, send: outgoing.pointer, receive: records.pointer, recordFloats: recordFloats)
    }
    // This rank's chunks: its own rows first (ascending), then, in the last one only, the received rows (ranks
    // above, in rank order: still ascending).
    let mine = stride(from: 0, to: rows.count, by: size).filter { owner(rows[$0]) == me }
    var local: [Int] = []
    local.reserveCapacity(size)
    for (k, start) in mine.enumerated() {
      local.removeAll(keepingCapacity: true)
      for i in start..<min(start + size, rows.count) where source.owns(rows[i]) { local.append(rows[i] - lower) }
      let extra = k == mine.count - 1 ? routes.receiveTotal : 0
      local.withUnsafeBufferPointer { body($0, extra > 0 ? UnsafePointer(records.pointer) : nil, extra) }
    }
  }
}
