/// What the gradient all-reduce sends (`dist.compress`).
public enum GradientCompression: String, CaseIterable, Sendable { case none, fp16 }

/// The float16 sum of MPI's user op for `dist.compress: fp16`: inout[i] = float16(in[i] + inout[i]), the two added
/// in float32. Commutative (a + b == b + a), so every rank gets the same sums whatever the reduction order.
public func halfSum(_ a: UnsafePointer<Float16>, into b: UnsafeMutablePointer<Float16>, count n: Int) {
  for i in 0..<n { b[i] = Float16(Float(a[i]) + Float(b[i])) }
}

/// What the training loop needs from the other ranks, and nothing more. The data and model layers know
/// nothing of MPI; the loop talks to a `Communicator`, which is MPI under mpirun/srun and a
/// single-process stand-in otherwise (so `mmtrain train` also runs without a launcher).
///
/// Every collective must be called by all ranks in the same order. Failures inside a collective are fatal
/// (the error string is printed with the rank and every rank is brought down), never a hang.
public protocol Communicator: AnyObject {
  var rank: Int { get }
  var size: Int { get }
  /// In place: buffer[i] = Σ over ranks of buffer[i].
  func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
  func allreduceSum(_ values: inout [Double])
  func allreduceMax(_ value: Int) -> Int
  func allreduceMin(_ value: Int) -> Int
  /// Starts an in-place sum of buffer[0..<count] over ranks and returns at once (MPI_Iallreduce); the buffer
  /// must not be touched until `waitAll()`. Every rank starts the same ranges in the same order.
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
  /// As above for float16 values (`dist.compress: fp16`): summed pairwise in float32, each partial sum rounded to
  /// float16 (an MPI user op; MPI has no float16 type).
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float16>, count: Int)
  /// As above for 64-bit integers (`dist.world_invariant`'s fixed-point gradients): integer sums are exact, so every
  /// reduction order and world size gives the same bits.
  func startAllreduceSum(_ buffer: UnsafeMutablePointer<Int64>, count: Int)
  /// In place, blocking: values[i] = Σ (exact) and max over ranks of values[i].
  func allreduceSum(_ values: inout [Int64])
  func allreduceMax(_ values: inout [Int64])
  /// Lets started sums progress without blocking (MPI_Testall); call between pieces of work.
  func progress()
  /// Completes every started sum.
  func waitAll()
  /// Copies root's buffer into every rank's.
  func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int)
  func broadcast(_ bytes: inout [UInt8], root: Int)
  /// Every rank's `value`, indexed by rank.
  func allgather(_ value: Int) -> [Int]
  /// Personalised exchange of fixed-size records (MPI_Alltoallv): this rank sends `sendCounts[q]` records,
  /// starting at record `sendOffsets[q]` of `send`, to rank q, and receives `receiveCounts[q]` records from q at
  /// record `receiveOffsets[q]` of `receive`. A record is `recordFloats` floats, moved as bytes. Collective.
  func exchange(
    send: UnsafePointer<Float>, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
    receive: UnsafeMutablePointer<Float>, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>,
    recordFloats: Int)
  /// Every rank's `count` floats at `send`, concatenated in rank order into `receive` (MPI_Allgather of the
  /// counts into `counts`, `size` entries, then MPI_Allgatherv). `receive` must hold the sum of the counts.
  /// Collective. One rank: a copy.
  func allgatherv(
    _ send: UnsafePointer<Float>, count: Int, receive: UnsafeMutablePointer<Float>, counts: UnsafeMutablePointer<Int32>,
    offsets: UnsafeMutablePointer<Int32>)
  /// From now on a collective that waits longer than this aborts the job, naming the ranks that did not
  /// arrive and the step (Watchdog.swift); 0 = off (blocking MPI calls).
  func startWatchdog(timeoutSeconds: Double)
  /// The training step, for the watchdog's census and messages.
  func noteStep(_ step: Int)
  func barrier()
  /// Splits the ranks into groups (MPI_Comm_split): ranks with the same `color` get one communicator, ranked
  /// by `key`. Collective. Each group's collectives then involve only its members (parallel cv folds).
  func split(color: Int, key: Int) -> Communicator
  /// Brings every rank down at once (MPI_Abort); for errors that only one rank can see mid-collective.
  func abort(code: Int32) -> Never
  /// Clean shutdown (MPI_Finalize). Safe to call twice.
  func finalize()
}

extension Communicator {
  public var isRoot: Bool { rank == 0 }

  public func allgatherv(
    _ send: UnsafePointer<Float>, count: Int, receive: UnsafeMutablePointer<Float>, counts: UnsafeMutablePointer<Int32>,
    offsets: UnsafeMutablePointer<Int32>
  ) {
    precondition(size == 1, "allgatherv of a communicator without MPI")
    counts[0] = Int32(count); offsets[0] = 0
    receive.update(from: send, count: count)
  }

  /// Collective agreement on failure: every rank passes whether it failed; all get the lowest failing
  /// rank, or nil when none failed. The failing rank with that number is the one that reports.
  public func firstFailingRank(_ failed: Bool) -> Int? {
    let r = allreduceMin(failed ? rank : Int(Int32.max))
    return r == Int(Int32.max) ? nil : r
  }
}

/// One process, no MPI: collectives are identities.
public final class SingleProcessCommunicator: Communicator {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
  public func allreduceSum(_ values: inout [Double]) {}
  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float16>, count: Int) {}
  public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Int64>, count: Int) {}
  public func allreduceSum(_ values: inout [Int64]) {}
  public func allreduceMax(_ values: inout [Int64]) {}
  public func progress() {}
  public func waitAll() {}
  public func allreduceMax(_ value: Int) -> Int { value }
  public func allreduceMin(_ value: Int) -> Int { value }
  public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {}
  public func broadcast(_ bytes: inout [UInt8], root: Int) {}
  public func allgather(_ value: Int) -> [Int] { [value] }
  public func exchange(
    send: UnsafePointer<Float>, sendCounts: UnsafePointer<Int32>, sendOffsets: UnsafePointer<Int32>,
    receive: UnsafeMutablePointer<Float>, receiveCounts: UnsafePointer<Int32>, receiveOffsets: UnsafePointer<Int32>,
    recordFloats: Int
  ) {
    (receive + Int(receiveOffsets[0]) * recordFloats).update(
      from: send + Int(sendOffsets[0]) * recordFloats,
      count: Int(sendCounts[0]) * recordFloats)
  }
  public func startWatchdog(timeoutSeconds: Double) {}
  public func noteStep(_ step: Int) {}
  public func barrier() {}
  public func split(color: Int, key: Int) -> Communicator { self }
  public func abort(code: Int32) -> Never { exit(code) }
  public func finalize() {}
}

#if canImport(Glibc)
  import Glibc
  import MMCore
#endif

extension Communicator {
  /// Runs a local step that may throw, then agrees across ranks: if any rank threw, every rank throws the
  /// same agreed MMError (collective; all ranks must call it in the same order). The lowest failing rank
  /// reports it (`printsHere`); it is a usage mistake if any failing rank's was, a runtime failure otherwise.
  public func agree<T>(_ body: () throws -> T) throws -> T {
    var result: T?
    var error: Error?
    do { result = try body() } catch let e { error = e }
    if let failing = firstFailingRank(error != nil) {
      let usage = allreduceMax(error?.mmKind == .usage ? 1 : 0) > 0
      if let agreed = error as? MMError, agreed.seenBy != nil { throw agreed }  // agreed further in already
      // Rank 0 speaks for the job; any other rank names itself (it owns the rows in question).
      let message = failing == rank ? (rank > 0 ? "rank \(rank): " : "") + "\(error!)" : "rank \(failing) failed"
      var agreed = MMError(message, kind: usage ? .usage : .runtime)
      agreed.seenBy = failing
      agreed.printsHere = failing == rank
      throw agreed
    }
    return result!
  }
}
