import MMData
import MMDistributed
import MMModel

extension Evaluator {
  /// Calls `body` with every chunk this rank evaluates, gathered (rows in ascending order; `ModelBatch.samples`
  /// holds their global ids): world-size-independent chunks of `model.maxBatch` rows (EvaluationChunks in
  /// MMDistributed). `rows`: global ids, ascending. Collective.
  func forEachEvaluationChunk(_ rows: [Int], _ body: (ModelBatch) -> Void) {
    let shard = session.shard
    EvaluationChunks.forEach(rows, size: model.maxBatch, samples: session.schema.count, source: shard, comm: comm) {
      local, records, extra in
      body(batch.gather(local, records: records, recordCount: extra, from: shard))
    }
  }
}
