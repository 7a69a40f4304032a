import CMPI
import Foundation

/// The watchdog (`dist.timeout_s`). With it on, every collective is started non-blocking (MPI_Iallreduce,
/// MPI_Ibcast, ...) and its request is polled against a deadline instead of blocking in MPI, so a rank that
/// hangs (stuck I/O, a stopped process, an overloaded node) ends the job with its name instead of freezing
/// it until the queue's time limit. Naming it takes a census, the ranks' step counters exchanged:
///
///     rank 0, a collective waited longer than timeout_s:
///         Isend(its step) to every rank r > 0 (tag census); Irecv(r's step) (tag reply); poll a grace period
///         -> the ranks that answered are waiting in a collective, with their step; the others did not arrive
///         -> one line naming them and the step; MPI_Abort
///     rank r > 0, while it polls any collective: answers a census from rank 0 with its step counter;
///         waits 2 x timeout_s + grace itself (so rank 0 speaks first), then names rank 0 and aborts
///
/// Cost when all is well: MPI_Test instead of MPI_Wait (a spin for 20 ms, then 100 µs sleeps), plus one posted
/// receive per rank. `dist.timeout_s: 0` leaves the blocking calls in place.
final class CollectiveWatchdog {
  static let censusTag: Int32 = 0x6d6d, replyTag: Int32 = 0x6d6e
  let rank: Int, size: Int, timeout: Double
  let comm: MPI_Comm  // the communicator whose collectives are watched (the world, or a part of it)
  /// The training step, kept current by the trainer (Communicator.noteStep); sent in census replies.
  var step = 0
  private let censusIn = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
  private let replyOut = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
  private var census: MPI_Request? = nil  // non-root: the posted receive for rank 0's census
  private let check: (Int32, String) -> Void

  init(rank: Int, size: Int, timeout: Double, comm: MPI_Comm, check: @escaping (Int32, String) -> Void) {
    (self.rank, self.size, self.timeout, self.comm, self.check) = (rank, size, timeout, comm, check)
    if rank > 0 { postCensusReceive() }
  }

  /// How long rank 0 waits for census answers: long enough for a busy rank to reach its next poll.
  var grace: Double { min(max(1, timeout / 2), 5) }

  /// Polls `request` until it completes (nil) or the deadline passes (the line to report; the caller aborts).
  func wait(_ request: UnsafeMutablePointer<MPI_Request?>, _ call: String) -> String? {
    let start = Date()
    let limit = rank == 0 ? timeout : 2 * timeout + grace + 1
    while true {
      var flag: Int32 = 0
      check(MPI_Test(request, &flag, mm_status_ignore()), call)
      if flag != 0 { return nil }
      if rank > 0 { answerCensus() }
      let waited = Date().timeIntervalSince(start)
      if waited > limit {
        return rank == 0
          ? takeCensus(call)
          : "watchdog: rank \(rank) at step \(step): \(call) waited \(String(format: "%g", limit)) s (2 x dist.timeout_s + \(String(format: "%g", grace)) s) and rank 0 did not answer: rank 0 hangs; aborting the job"
      }
      // Spin (yielding to any other process on the core) for the first spinSeconds: a collective makes progress
      // only while its ranks call into MPI, so a sleeping rank stalls the sum (measured in the Performance
      // article). Long waits (a checkpoint being written) then sleep in 100 µs steps.
      if waited > Self.spinSeconds { usleep(100) } else { sched_yield() }
    }
  }

  /// How long a wait spins before it sleeps between polls.
  static let spinSeconds = 0.02

  /// Non-root: the receive is pending until rank 0 asks; then the reply goes out and a new receive is posted.
  private func answerCensus() {
    var flag: Int32 = 0
    check(MPI_Test(&census, &flag, mm_status_ignore()), "MPI_Test (watchdog)")
    guard flag != 0 else { return }
    replyOut.pointee = Int64(step)
    var reply: MPI_Request? = nil
    check(MPI_Isend(replyOut, 1, mm_int64(), 0, Self.replyTag, comm, &reply), "MPI_Isend (watchdog)")
    check(MPI_Request_free(&reply), "MPI_Request_free (watchdog)")
    postCensusReceive()
  }

  private func postCensusReceive() {
    check(MPI_Irecv(censusIn, 1, mm_int64(), 0, Self.censusTag, comm, &census), "MPI_Irecv (watchdog)")
  }

  /// Rank 0: asks every rank for its step; those that do not answer within the grace period did not arrive.
  private func takeCensus(_ call: String) -> String {
    let n = size
    let steps = UnsafeMutablePointer<Int64>.allocate(capacity: n)
    steps.initialize(repeating: -1, count: n)
    let mine = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    mine.pointee = Int64(step)
    var sends = [MPI_Request?](repeating: nil, count: n), receives = [MPI_Request?](repeating: nil, count: n)
    for r in 1..<n {
      check(MPI_Isend(mine, 1, mm_int64(), Int32(r), Self.censusTag, comm, &sends[r]), "MPI_Isend (watchdog)")
      check(MPI_Irecv(steps + r, 1, mm_int64(), Int32(r), Self.replyTag, comm, &receives[r]), "MPI_Irecv (watchdog)")
    }
    var answered = [Bool](repeating: false, count: n)
    answered[0] = true
    let end = Date().addingTimeInterval(grace)
    while Date() < end, answered.contains(false) {
      for r in 1..<n where !answered[r] {
        var flag: Int32 = 0
        check(MPI_Test(&receives[r], &flag, mm_status_ignore()), "MPI_Test (watchdog)")
        answered[r] = flag != 0
      }
      usleep(1000)
    }
    // The job is aborted next; the buffers stay allocated on purpose (requests may still point at them).
    let missing = (1..<n).filter { !answered[$0] }
    let waiting = (0..<n).filter { answered[$0] }
    let elsewhere = waiting.filter { $0 > 0 && steps[$0] != Int64(step) }.map { "rank \($0) at step \(steps[$0])" }
    let t = String(format: "%g", timeout)
    var line = "watchdog: at step \(step) \(call) waited dist.timeout_s = \(t) s: "
    line +=
      missing.isEmpty
      ? "every rank answered, yet the collective did not complete (a network problem?)"
      : "rank\(missing.count > 1 ? "s" : "") \(missing.map(String.init).joined(separator: ", ")) did not arrive"
    line += " (rank\(waiting.count > 1 ? "s" : "") \(waiting.map(String.init).joined(separator: ", ")) waiting"
    line += elsewhere.isEmpty ? ")" : "; \(elsewhere.joined(separator: ", ")))"
    return line + "; a rank hangs (stuck I/O, a stopped or overloaded node): aborting the job"
  }

  /// Before MPI_Finalize: no receive may stay posted.
  func close() {
    guard rank > 0, census != nil else { return }
    check(MPI_Cancel(&census), "MPI_Cancel (watchdog)")
    check(MPI_Wait(&census, mm_status_ignore()), "MPI_Wait (watchdog)")
  }
}
