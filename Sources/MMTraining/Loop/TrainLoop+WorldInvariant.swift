import MMData
import MMDistributed
import MMModel
import MMTensor

extension TrainLoop {
  /// One step with `dist.world_invariant`: this rank's chunks of the global batch `rows` (TrainingChunks), each
  /// gathered in sampler order and run forward and backward alone (the same shapes, so the same bits, on any
  /// rank), its gradient added to the exact fixed-point sum (ExactGradientSum); the last chunk's buckets are
  /// summed over ranks while its backward runs. The loss denominator (Σ w_y, or valid steps) is an exact
  /// fixed-point sum too. Returns the stop signal the ranks agree on (0: none).
  func invariantStep(
    _ rows: ArraySlice<Int>, _ w: WorldInvariance, epoch: Int, stepInEpoch: Int, step: Int, totals: inout StepTotals
  ) -> Int32 {
    let s = session, model = s.model, chunks = w.chunks, sum = w.sum
    s.comm.noteStep(step)
    rows.withUnsafeBufferPointer { chunks.take($0) }
    let recordFloats = s.shard.recordFloats
    let none = UnsafeBufferPointer<Int>(start: nil, count: 0)
    /// Chunk j of this rank's, gathered into the batch buffers.
    func gather(_ j: Int, first: Int) -> ModelBatch {
      s.batch.gather(
        none, records: chunks.records + first * recordFloats, recordCount: chunks.chunks[j].count, from: s.shard)
    }
    denominator[0] = Double(rows.count)
    if s.batch.stepRows != nil || s.lossSpec.weightsRows {  // Σ over chunks of each chunk's sum, in fixed point
      w.denominator[0] = 0
      var first = 0
      for j in chunks.chunks.indices {
        let mb = gather(j, first: first), n = chunks.chunks[j].count
        first += n
        var part = 0.0
        if let steps = s.batch.stepRows {
          part = steps.denominator(
            targets: s.batch.targets.pointer, lengths: mb.fusedLengths, batch: n, loss: s.lossSpec)
        } else {
          for k in 0..<n { part += s.lossSpec.weight(ofLabel: s.batch.targets[k]) }
        }
        w.denominator[0] += Int64((part * WorldInvariance.denominatorScale).rounded(.toNearestOrEven))
      }
      s.comm.allreduceSum(&w.denominator)
      denominator[0] = Double(w.denominator[0]) / WorldInvariance.denominatorScale
    }
    let mark = Int(StopSignal.received) & (StopSignal.slots - 1)  // read once: the same in a repeated pass
    let ctx = TrainingContext(seed: s.config.train.seed, epoch: epoch, modalityDropout: s.config.train.modalityDropout)
    var stepTotals = StepTotals()
    repeat {
      // The weights stay the same over this pass's chunks: each recurrent layer packs W_hh once (PackedMatrix).
      PackedMatrix.beginReuse()
      defer { PackedMatrix.endReuse() }  // before the optimiser changes them, and for evaluation
      sum.begin(mark: mark)
      model.arena.zeroGrads()  // once: each chunk's `sum.add` zeroes what it took
      stepTotals = StepTotals()
      var first = 0
      let mine = chunks.chunks.count
      for j in 0..<mine {
        let mb = gather(j, first: first), count = chunks.chunks[j].count
        first += count
        let r = forwardAndLoss(mb, count: count, training: ctx)
        let last = j == mine - 1
        model.backward { k in
          sum.add(k)
          if last { sum.start(k) }  // the last chunk's buckets are summed while its backward goes on
        }
        for k in model.gradientBuckets.count..<sum.bucketCount {  // trained embeddings' tables, whole
          sum.add(k)
          if last { sum.start(k) }
        }
        let chunkIndex = chunks.chunks[j].lowerBound / TrainingChunks.rows
        w.record(step: stepInEpoch, chunk: chunkIndex, lossSum: r.lossSum, weightSum: r.weightSum)
        stepTotals.samples += Double(count); stepTotals.rows += Double(s.batch.stepRows?.count ?? count)
        stepTotals.correct += Double(r.correct)
      }
      if mine == 0 { for k in 0..<sum.bucketCount { sum.start(k) } }
    } while !sum.finish()
    totals.samples += stepTotals.samples; totals.rows += stepTotals.rows; totals.correct += stepTotals.correct
    let control = model.arena.trailing
    var signal: Int32 = 0
    for k in 1..<StopSignal.slots where control[k] > 0 { signal = Int32(k) }  // the ranks agree on the largest
    return signal
  }
}
