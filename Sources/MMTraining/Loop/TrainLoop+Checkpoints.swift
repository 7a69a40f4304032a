import Foundation
import MMCheckpoint
import MMConfig
import MMCore
import MMData
import MMDistributed

/// The loop's checkpoints and the faults a shared cluster brings: a checkpoint that cannot be written (full
/// disk), replicas whose parameters drifted apart, a signal's stop. (A hanging rank is the watchdog's:
/// Communicator.startWatchdog, Watchdog.swift.)
extension TrainLoop {
  /// Rank 0 writes; every rank learns whether it worked. `epoch` = epochs completed, `stepInEpoch` = steps
  /// done in the epoch after those (0 at a boundary). Returns the checkpoint's path.
  /// `best`: write checkpoint-best.h5 instead (not published as latest, never deleted by checkpoint.keep).
  /// A failed write follows `checkpoint.on_error` unless `mustSucceed` (a stop: exit 75 promises a checkpoint).
  @discardableResult
  func saveCheckpoint(epoch: Int, stepInEpoch: Int, step: Int, best: Bool = false, mustSucceed: Bool = true) throws
    -> String
  {
    let s = session, run = s.run
    // Weights trained on a data file changed under them are not kept (data.mmap). At an epoch's end `finish`
    // has just checked it, after the last row the epoch read; mid-epoch (a stop, checkpoint.every_steps) here.
    if stepInEpoch > 0 { try s.comm.agree { try s.shard.checkSource() } }
    let path = best ? run.bestCheckpointPath : run.checkpointPath(epoch: epoch, stepInEpoch: stepInEpoch)
    try withCheckpointErrorPolicy(path: path, mustSucceed: mustSucceed) {
      try s.comm.agree {
        guard s.comm.isRoot else { return }
        var state = Checkpoint.State(
          epoch: epoch, step: step, stepInEpoch: stepInEpoch, seed: s.sampler.seed,
          rngState: s.sampler.rng(epoch: epoch).stateArray,
          elapsed: Date().timeIntervalSince(start), earlyStopping: stopper?.state)
        state.worldInvariantExponents = s.invariant?.sum.exponents
        try Checkpoint.write(
          to: path, arena: s.model.arena, optimizer: s.optimizer,
          normalization: (s.shard.statistics.mean, s.shard.statistics.std),
          state: state, configYAML: s.config.yaml(), provenance: s.provenance,
          attributes: s.options.checkpointAttributes)
        if !best { try run.publish(path, keep: s.config.checkpoint.keep) }
      }
    }
    return path
  }

  /// After the stop checkpoint: rank 0 leaves RUN_DIR/STOPPED (checkpoint and signal) for launchers.
  func stopped(epoch: Int, stepInEpoch: Int, checkpoint: String, signal: Int32) throws -> MMError {
    let s = session
    try s.comm.agree {
      guard s.comm.isRoot else { return }
      try s.run.writeStopMarker(
        checkpoint: checkpoint, reason: StopSignal.name(signal), epoch: epoch, stepInEpoch: stepInEpoch)
    }
    return MMError.stopped(epoch: epoch, stepInEpoch: stepInEpoch, checkpoint: checkpoint, signal: signal)
  }

  /// With early stopping on, the run ends on the best epoch's weights: rank 0 reads checkpoint-best.h5,
  /// broadcasts them, and points `latest` at it.
  func restoreBest() throws {
    guard let stopper, stopper.state.bestEpoch > 0 else { return }
    let s = session
    try s.comm.agree {
      guard s.comm.isRoot else { return }
      try Checkpoint.loadParams(try Checkpoint.read(path: s.run.bestCheckpointPath), into: s.model.arena)
      try s.run.pointLatest(at: s.run.bestCheckpointPath)
    }
    s.comm.broadcast(s.model.arena.values.pointer, count: s.model.arena.count, root: 0)
    s.progress.line(
      String(
        format: "best epoch %d (%@ %.4f): its weights are in latest -> checkpoint-best.h5", stopper.state.bestEpoch,
        stopper.settings.metric.rawValue, stopper.state.best))
  }

  /// Runs a checkpoint write; on failure, `checkpoint.on_error: stop` (or `mustSucceed`) ends the run with
  /// one line saying that the previous checkpoint is intact, `warn` prints a warning and training goes on.
  func withCheckpointErrorPolicy(path: String, mustSucceed: Bool, _ write: () throws -> Void) throws {
    let s = session
    let previous = (try? FileManager.default.destinationOfSymbolicLink(atPath: s.run.latestLink)) ?? "none yet"
    do {
      try write()
    } catch var failure as MMError where failure.seenBy != nil {
      let what = "\(failure.message); the previous checkpoint (\(previous)) is intact"
      if mustSucceed || s.config.checkpoint.onError == .stop {
        let printsHere = failure.printsHere, seenBy = failure.seenBy
        failure = MMError(
          "\(what) (free space, then --resume \(s.config.checkpoint.dir); or set checkpoint.on_error: warn to train on without it)",
          kind: failure.kind)
        failure.printsHere = printsHere
        failure.seenBy = seenBy
        throw failure
      }
      if s.comm.isRoot { Console.warning("\(what); training goes on (checkpoint.on_error: warn)") }
    }
  }

  /// `dist.check_every`: every n steps all ranks gather a checksum of their parameters; a rank whose
  /// checksum differs from the majority's (rank 0's when there is no majority) has a diverged replica.
  func checkReplicas(step: Int) throws {
    let s = session, arena = s.model.arena
    FaultInjection.apply(rank: s.comm.rank, step: step, params: arena.values.pointer, count: arena.count)
    let every = s.config.dist.checkEvery
    guard every > 0, step % every == 0, s.comm.size > 1 else { return }
    let sums = s.comm.allgather(
      Int(bitPattern: UInt(FaultInjection.checksum(arena.values.pointer, count: arena.count))))
    var votes: [Int: Int] = [:]
    for v in sums { votes[v, default: 0] += 1 }
    let best = votes.values.max()!
    let truth = votes.filter { $0.value == best }.count == 1 ? votes.first { $0.value == best }!.key : sums[0]
    let diverged = sums.indices.filter { sums[$0] != truth }
    try s.comm.agree {
      guard s.comm.isRoot, !diverged.isEmpty else { return }
      let agreeing = sums.indices.filter { sums[$0] == truth }.map(String.init).joined(separator: ", ")
      throw MMError(
        "dist.check_every: after step \(step) the parameters of rank \(diverged.map(String.init).joined(separator: ", ")) "
          + "differ from those of rank \(agreeing) (checksums \(String(UInt(bitPattern: sums[diverged[0]]), radix: 16)) vs "
          + "\(String(UInt(bitPattern: truth), radix: 16))): the replicas diverged (faulty memory or CPU on that node, or "
          + "ranks running different mmtrain builds)")
    }
  }
}

/// A fault that a test injects into a real run, the way a bit flip in a node's memory would strike:
/// `MMTRAIN_INJECT_FAULT=flip-param:RANK:STEP` flips the lowest mantissa bit of the first parameter on that
/// rank after that step. Read once; unset (always, outside tests), it costs one comparison per step.
enum FaultInjection {
  static let plan: (rank: Int, step: Int)? = {
    guard let spec = ProcessInfo.processInfo.environment["MMTRAIN_INJECT_FAULT"] else { return nil }
    let parts = spec.split(separator: ":")
    guard parts.count == 3, parts[0] == "flip-param", let r = Int(parts[1]), let s = Int(parts[2]) else { return nil }
    return (r, s)
  }()

  static func apply(rank: Int, step: Int, params: UnsafeMutablePointer<Float>, count: Int) {
    guard let plan, plan.rank == rank, plan.step == step, count > 0 else { return }
    params[0] = Float(bitPattern: params[0].bitPattern ^ 1)
  }

  /// FNV-1a over the parameters' bit patterns: equal replicas give equal sums, any flipped bit changes it.
  static func checksum(_ p: UnsafeMutablePointer<Float>, count: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in 0..<count { h = (h ^ UInt64(p[i].bitPattern)) &* 0x100_0000_01b3 }
    return h
  }
}
