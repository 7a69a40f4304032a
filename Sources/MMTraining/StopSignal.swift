import Foundation
import Synchronization

/// SIGTERM, SIGINT and SIGUSR1 ask the run to stop cleanly: the ranks agree on it at the next step,
/// rank 0 writes a checkpoint at that exact position (mid-epoch included), and mmtrain exits 75
/// (EX_TEMPFAIL, "resumable"); `--resume RUN_DIR` continues bit for bit. Under mpirun send SIGUSR1
/// (mpirun forwards it to every rank; SIGTERM to mpirun kills the ranks instead).
public enum StopSignal {
  static let flag = Atomic<Int32>(0)
  public static let exitCode: Int32 = 75

  public static var requested: Bool { flag.load(ordering: .relaxed) != 0 }
  public static func request() { flag.store(1, ordering: .relaxed) }

  public static func install() {
    for s in [SIGTERM, SIGINT, SIGUSR1] {
      signal(s) { _ in StopSignal.flag.store(1, ordering: .relaxed) }
    }
  }
}

/// Thrown on every rank once the ranks agreed to stop; the checkpoint is already written.
public struct TrainingStopped: Error, CustomStringConvertible {
  public let epoch: Int, stepInEpoch: Int, checkpoint: String
  public var description: String {
    "stopped by a signal in epoch \(epoch + 1) after step \(stepInEpoch); checkpoint \(checkpoint) (continue with --resume)"
  }
}
