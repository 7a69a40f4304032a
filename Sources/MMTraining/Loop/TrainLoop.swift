import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed
import MMModel

/// The training loop over a session. Every rank runs it; rank 0 alone writes and prints.
///
/// Per step: the global batch is the sampler's slice of the epoch order; each rank gathers the rows of it
/// that it owns (evened out across ranks by the balancer), runs forward/backward with the loss scaled by
/// 1 / global batch count (Σ w_y under class weights: one extra all-reduce of that number), sums the
/// gradients in buckets while backward runs, and every rank applies the same controls and optimiser step,
/// so replicas stay identical. After each epoch: validation, metrics.jsonl, checkpoints, early stopping.
public final class TrainLoop {
  public let session: TrainingSession
  public private(set) var history: [EpochRecord] = []
  let stopper: EarlyStopper?  // nil: early stopping off
  let evaluator: Evaluator
  var start = Date()  // when training started, less the time of the runs it resumes
  var denominator = [0.0]  // Σ w_y of the global batch, all-reduced (class-weighted cross-entropy only)

  public init(_ session: TrainingSession) {
    self.session = session
    evaluator = Evaluator(session)
    stopper = session.config.train.earlyStopping.map {
      EarlyStopper($0, resumed: session.options.resume?.state.earlyStopping)
    }
  }

  /// Trains from the resumed epoch (or 0) to `train.epochs`, checkpointing as configured. A run that fails
  /// before its first checkpoint leaves no run directory behind that it created.
  @discardableResult
  public func run() throws -> [EpochRecord] {
    do { return try epochs() } catch let error where error.mmKind != .stopped {
      session.abandon()
      throw error
    }
  }

  func epochs() throws -> [EpochRecord] {
    let s = session, c = s.config
    let resume = s.options.resume?.state
    var step = resume?.step ?? 0
    let firstEpoch = resume?.epoch ?? 0
    var firstStep = resume?.stepInEpoch ?? 0  // > 0: resuming inside an epoch
    start = Date(timeIntervalSinceNow: -(resume?.elapsed ?? 0))  // elapsed_s runs on over resumes
    if firstEpoch >= c.train.epochs {
      s.progress.line(
        "nothing to do: the checkpoint has \(firstEpoch) epochs, train.epochs = \(c.train.epochs) (raise it with --set train.epochs=N)"
      )
    }
    for epoch in firstEpoch..<max(firstEpoch, c.train.epochs) {
      let t0 = Date()
      let steps = try train(epoch: epoch, from: firstStep, step: &step)
      firstStep = 0
      let validation = try finish(epoch: epoch, steps, seconds: Date().timeIntervalSince(t0))
      if try epochEnded(epoch: epoch, validation: validation, steps, step: step) { break }
    }
    try restoreBest()
    return history
  }

  /// What an epoch's steps leave: the totals, the gradient norm and lr, and whether a signal asked to stop.
  struct EpochSteps {
    var totals = StepTotals()
    var gradNormSum = 0.0, lr = 0.0, count = 0  // the same on every rank: computed after the all-reduce
    var signal: Int32 = 0  // agreed by all ranks after every step
    var repeated: Int?  // dist.world_invariant: steps computed again (the same on every rank)
  }

  /// One epoch's training steps, from `firstStep`. A signal stops every rank at the same step; mid-epoch that
  /// writes the stop checkpoint and throws TrainingStopped.
  func train(epoch: Int, from firstStep: Int, step globalStep: inout Int) throws -> EpochSteps {
    let s = session, c = s.config
    let order = s.sampler.order(epoch: epoch)
    // data.stream: read ahead
    s.shard.willTrain(order: order, sampler: s.sampler, steps: firstStep..<s.sampler.stepsPerEpoch)
    var e = EpochSteps()
    s.exchange.waitSeconds = 0
    s.balancer.movedRows = 0
    s.balancer.waitSeconds = 0
    if let w = s.invariant {
      w.beginEpoch(steps: s.sampler.stepsPerEpoch)
      w.chunks.movedRows = 0; w.chunks.waitSeconds = 0; w.sum.waitSeconds = 0; w.sum.repeats = 0
    }
    for step in firstStep..<s.sampler.stepsPerEpoch {
      let rows = s.sampler.batch(step, of: order)
      if let w = s.invariant {
        e.signal = invariantStep(rows, w, epoch: epoch, stepInEpoch: step, step: globalStep + 1, totals: &e.totals)
      } else {
        e.signal = self.step(rows, epoch: epoch, step: globalStep + 1, totals: &e.totals)
      }
      let applied = s.controls.step(s.model.arena, s.optimizer, step: globalStep)
      e.gradNormSum += applied.norm; e.lr = applied.lr; e.count += 1
      globalStep += 1
      try checkReplicas(step: globalStep)
      s.options.afterStep?(globalStep)
      s.progress.step(
        epoch: epoch + 1, epochs: c.train.epochs, step: step + 1, steps: s.sampler.stepsPerEpoch,
        loss: e.totals.meanLoss)
      if e.signal != 0, step + 1 < s.sampler.stepsPerEpoch {
        let path = try saveCheckpoint(epoch: epoch, stepInEpoch: step + 1, step: globalStep)
        throw try stopped(epoch: epoch, stepInEpoch: step + 1, checkpoint: path, signal: e.signal)
      }
      if c.checkpoint.everySteps > 0, globalStep % c.checkpoint.everySteps == 0, step + 1 < s.sampler.stepsPerEpoch {
        try saveCheckpoint(epoch: epoch, stepInEpoch: step + 1, step: globalStep, mustSucceed: false)
      }
    }
    e.totals.collectiveSeconds = s.exchange.waitSeconds + s.balancer.waitSeconds
    e.totals.movedRows = Double(s.balancer.movedRows)
    if let w = s.invariant {
      e.totals.collectiveSeconds += w.chunks.waitSeconds + w.sum.waitSeconds
      e.totals.movedRows += Double(w.chunks.movedRows)
      e.repeated = w.sum.repeats
    }
    e.totals.allreduce(s.comm)
    if let w = s.invariant { (e.totals.lossSum, e.totals.weightSum) = w.epochSums(s.comm) }
    return e
  }

  /// One step's forward, backward and gradient sum on this rank's part of the global batch `rows`.
  /// Returns the stop signal the ranks agree on (0: none). Allocates nothing.
  func step(_ rows: ArraySlice<Int>, epoch: Int, step: Int, totals: inout StepTotals) -> Int32 {
    let s = session, model = s.model
    s.comm.noteStep(step)
    rows.withUnsafeBufferPointer { s.balancer.take($0) }  // (no generic iteration: nothing allocates, even unoptimised)
    let count = s.balancer.count
    let mb = s.balancer.kept.withUnsafeBufferPointer {
      s.batch.gather($0, records: s.balancer.records, recordCount: s.balancer.received, from: s.shard)
    }
    model.arena.zeroGrads()
    denominator[0] = Double(rows.count)
    if let steps = s.batch.stepRows {  // per-step targets: the global batch's valid steps (Σ w_y when weighted)
      denominator[0] = steps.denominator(
        targets: s.batch.targets.pointer, lengths: mb.fusedLengths, batch: count, loss: s.lossSpec)
      s.comm.allreduceSum(&denominator)
    } else if s.lossSpec.weightsRows {
      denominator[0] = 0
      for k in 0..<count { denominator[0] += s.lossSpec.weight(ofLabel: s.batch.targets[k]) }
      s.comm.allreduceSum(&denominator)
    }
    let control = model.arena.trailing  // control[s] = 1: this rank received signal s; summed with the gradients
    control.update(repeating: 0, count: StopSignal.slots)
    control[Int(StopSignal.received) & (StopSignal.slots - 1)] = 1
    if count == 0 {
      s.exchange.startAll()
    } else {
      let ctx = TrainingContext(
        seed: s.config.train.seed, epoch: epoch, modalityDropout: s.config.train.modalityDropout)
      let r = forwardAndLoss(mb, count: count, training: ctx)
      model.backward { s.exchange.start($0) }  // each bucket's sum overlaps the rest of backward
      let rowCount = s.batch.stepRows?.count ?? count  // samples, or valid steps
      totals.lossSum += r.lossSum; totals.samples += Double(count); totals.rows += Double(rowCount)
      totals.correct += Double(r.correct)
      totals.weightSum += r.weightSum
    }
    s.exchange.finish()
    for k in 0..<model.touchedRows.count {  // a trained embedding: the rows the ranks touched, summed
      if count == 0 { model.touchedRows[k].clear() }
      s.exchange.sumRows(model.touchedRows[k])
    }
    var signal: Int32 = 0
    for k in 1..<StopSignal.slots where control[k] > 0 { signal = Int32(k) }  // the ranks agree on the largest
    return signal
  }

  /// A training forward of `mb` (its first `count` rows of the gathered batch) and its loss over
  /// `denominator[0]`, which writes d loss / d logits into `model.dlogits` for backward. Per-step targets: over
  /// the valid steps' rows only (padded steps get no gradient). Allocates nothing.
  func forwardAndLoss(_ mb: ModelBatch, count: Int, training ctx: TrainingContext) -> LossResult {
    let s = session, model = s.model
    let logits = model.forward(mb, training: ctx)
    guard let steps = s.batch.stepRows else {
      return Loss.evaluate(
        s.lossSpec, logits: logits, targets: s.batch.targets.pointer, batch: count, outputs: model.outputs,
        denominator: denominator[0], dlogits: model.dlogits.pointer)
    }
    steps.gather(logits: logits, targets: s.batch.targets.pointer, lengths: mb.fusedLengths, batch: count)
    let r = Loss.evaluate(
      s.lossSpec, logits: steps.logits.pointer, targets: steps.targets.pointer, batch: steps.count,
      outputs: model.outputs, denominator: denominator[0], dlogits: steps.dlogits.pointer)
    steps.scatter(into: model.dlogits.pointer, batch: count)
    return r
  }

  /// The epoch's record (validation, the divergence check, metrics.jsonl, the console line); returns the
  /// validation metrics.
  func finish(epoch: Int, _ e: EpochSteps, seconds: Double) throws -> ValidationResult? {
    let s = session
    let peakRSS = s.comm.allreduceMax(RunTiming.peakRSS())
    let trainLoss = e.totals.meanLoss
    let val = evaluator.validate()
    // Every rank holds the same all-reduced losses; agree so that one rank reports. A mapped file must be as
    // it was loaded (data.mmap), or the epoch's rows may mix two versions of it.
    try s.comm.agree {
      try s.shard.checkSource()
      for (name, loss) in [("train", trainLoss), ("validation", val?.loss ?? 0)] where !loss.isFinite {
        throw MMError(
          "training diverged: the \(name) loss is \(loss) in epoch \(epoch + 1) (lower train.lr, or check the data with "
            + "mmtrain inspect)")
      }
    }
    let record = EpochRecord(
      epoch: epoch + 1, trainLoss: trainLoss,
      trainAccuracy: s.config.task.kind == .regression ? nil : e.totals.correct / max(e.totals.rows, 1),
      valLoss: val?.loss, valAccuracy: val?.accuracy, valF1: val?.f1, valMAE: val?.mae, lr: e.lr,
      gradNorm: e.gradNormSum / Double(max(e.count, 1)), samplesPerSecond: e.totals.samples / max(seconds, 1e-9),
      elapsed: Date().timeIntervalSince(start), worldSize: s.comm.size, trainSeconds: seconds,
      mpiWaitSeconds: e.totals.collectiveSeconds / Double(s.comm.size), peakRSS: peakRSS,
      movedRows: Int(e.totals.movedRows), stepsRepeated: e.repeated,
      timing: s.timing)
    history.append(record)
    s.progress.line(record.consoleLine(epochs: s.config.train.epochs))
    if s.comm.isRoot {
      do { try s.run.appendMetrics(line: try record.jsonLine()) } catch {
        Console.warning("\(error)")
      }
    }
    return val
  }

  /// After an epoch's record: early stopping, the epoch's checkpoints, a signal's stop. True: stop here.
  func epochEnded(epoch: Int, validation val: ValidationResult?, _ e: EpochSteps, step: Int) throws -> Bool {
    let c = session.config
    // Early stopping: every rank sees the same all-reduced metric, so every rank decides the same.
    let improved = stopper.map { $0.observe(val!.value(of: $0.settings.metric), epoch: epoch + 1) } ?? false
    let earlyStop = stopper?.shouldStop ?? false
    let isLast = epoch + 1 == c.train.epochs
    let stop = e.signal != 0
    if improved { try saveCheckpoint(epoch: epoch + 1, stepInEpoch: 0, step: step, best: true, mustSucceed: false) }
    let stepDue = c.checkpoint.everySteps > 0 && step % c.checkpoint.everySteps == 0
    if (epoch + 1) % c.checkpoint.everyEpochs == 0 || isLast || stop || earlyStop || stepDue {
      let path = try saveCheckpoint(epoch: epoch + 1, stepInEpoch: 0, step: step, mustSucceed: stop)
      if stop && !isLast && !earlyStop {
        throw try stopped(epoch: epoch + 1, stepInEpoch: 0, checkpoint: path, signal: e.signal)
      }
    }
    if earlyStop, let s = stopper {
      session.progress.line(
        "early stopping: \(s.settings.metric.rawValue) has not improved by more than \(s.settings.minDelta) for "
          + "\(s.settings.patience) epoch(s)")
      return true
    }
    return false
  }

  /// The epoch whose weights the run kept, when early stopping chose it.
  public var bestEpoch: Int? { stopper.flatMap { $0.state.bestEpoch > 0 ? $0.state.bestEpoch : nil } }
  /// Whether early stopping ended the run before train.epochs (nil: early stopping off).
  public var stoppedEarly: Bool? { stopper.map { $0.shouldStop } }
}
