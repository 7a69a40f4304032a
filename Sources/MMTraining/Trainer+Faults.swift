import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMDistributed

/// The faults a shared cluster brings, as the training loop meets them: a data file changed under a
/// resumed run, a checkpoint that cannot be written (full disk), replicas whose parameters drifted apart.
/// (A hanging rank is the watchdog's: Communicator.startWatchdog, Watchdog.swift.)
extension Trainer {
  /// On resume: refuses a data file whose fingerprint (size, mtime, datasets) differs from the one the
  /// checkpoint recorded (its provenance), unless --allow-data-change.
  func checkDataFingerprint() throws {
    guard let resume = options.resume, let old = resume.provenance?.data else { return }
    let path = config.data.path
    try comm.agree {
      guard comm.isRoot, let change = try DataFingerprint.of(path: path).difference(from: old) else { return }
      if options.allowDataChange {
        progress.line("warning: \(path) changed since \(resume.path) was written (\(change)); resuming anyway (--allow-data-change)")
        return
      }
      throw TrainingError("\(path) changed since \(resume.path) was written: \(change); resuming would continue on other data (restore the file, or pass --allow-data-change to resume anyway)")
    }
  }

  /// Runs a checkpoint write; on failure, `checkpoint.on_error: stop` (or `mustSucceed`) ends the run with
  /// one line saying that the previous checkpoint is intact, `warn` prints a warning and training goes on.
  func withCheckpointErrorPolicy(path: String, mustSucceed: Bool, _ write: () throws -> Void) throws {
    let previous = (try? FileManager.default.destinationOfSymbolicLink(atPath: run.latestLink)) ?? "none yet"
    do {
      try write()
    } catch let failure as RankFailure {
      let what = "\(failure.message ?? "rank \(failure.rank) failed"); the previous checkpoint (\(previous)) is intact"
      if mustSucceed || config.checkpoint.onError == .stop {
        throw RankFailure(rank: failure.rank, message: failure.message.map { _ in
          "\(what) (free space, then --resume \(config.checkpoint.dir); or set checkpoint.on_error: warn to train on without it)"
        })
      }
      if comm.isRoot { FileHandle.standardError.write(Data("mmtrain: warning: \(what); training goes on (checkpoint.on_error: warn)\n".utf8)) }
    }
  }

  /// `dist.check_every`: every n steps all ranks gather a checksum of their parameters; a rank whose
  /// checksum differs from the majority's (rank 0's when there is no majority) has a diverged replica.
  func checkReplicas(step: Int) throws {
    FaultInjection.apply(rank: comm.rank, step: step, params: model.arena.values.pointer, count: model.arena.count)
    let every = config.dist.checkEvery
    guard every > 0, step % every == 0, comm.size > 1 else { return }
    let sums = comm.allgather(Int(bitPattern: UInt(FaultInjection.checksum(model.arena.values.pointer, count: model.arena.count))))
    var votes: [Int: Int] = [:]
    for s in sums { votes[s, default: 0] += 1 }
    let best = votes.values.max()!
    let truth = votes.filter { $0.value == best }.count == 1 ? votes.first { $0.value == best }!.key : sums[0]
    let diverged = sums.indices.filter { sums[$0] != truth }
    try comm.agree {
      guard comm.isRoot, !diverged.isEmpty else { return }
      let agreeing = sums.indices.filter { sums[$0] == truth }.map(String.init).joined(separator: ", ")
      throw TrainingError("dist.check_every: after step \(step) the parameters of rank \(diverged.map(String.init).joined(separator: ", ")) differ from those of rank \(agreeing) (checksums \(String(UInt(bitPattern: sums[diverged[0]]), radix: 16)) vs \(String(UInt(bitPattern: truth), radix: 16))): the replicas diverged (faulty memory or CPU on that node, or ranks running different mmtrain builds)")
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
