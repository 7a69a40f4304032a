import Foundation
import MMCore
import Synchronization

/// SIGTERM, SIGINT and SIGUSR1 ask the run to stop cleanly: the ranks agree on it at the next step,
/// rank 0 writes a checkpoint at that exact position (mid-epoch included), and mmtrain exits 75
/// (EX_TEMPFAIL, "resumable"), leaving RUN_DIR/STOPPED; `--resume RUN_DIR` continues bit for bit.
/// Under mpirun, SIGUSR1 is forwarded to every rank at once (mpirun then exits 75); SIGTERM and SIGINT
/// make mpirun send the ranks SIGTERM after `odls_base_sigkill_timeout` seconds and SIGKILL as long again
/// later (mpirun then exits 1; STOPPED tells the clean stop from a crash).
///
/// A second SIGINT (Ctrl-C pressed again while the first waits for the step to end) exits at once, without
/// a checkpoint, with exit code 130 and a line that says so: the previous checkpoint stays the one to resume.
public enum StopSignal {
  static let flag = Atomic<Int32>(0)  // the signal number received, 0 = none
  static let interrupts = Atomic<Int32>(0)
  /// The step's agreement on a stop: one float per signal number, carried after the gradients in their
  /// all-reduce (ParameterArena.trailing); slot s > 0 summed over ranks: how many ranks received signal s.
  public static let slots = 32

  public static var requested: Bool { received != 0 }
  /// The signal that asked for the stop (0 = none); the ranks agree on the largest one.
  public static var received: Int32 { flag.load(ordering: .relaxed) }
  public static func request(_ signal: Int32 = SIGUSR1) { flag.store(signal, ordering: .relaxed) }

  public static func install() {
    for s in [SIGTERM, SIGUSR1] {
      signal(s) { StopSignal.flag.store($0, ordering: .relaxed) }
    }
    signal(SIGINT) { s in
      // Only async-signal-safe calls here: an atomic add, write(2), _exit(2).
      if StopSignal.interrupts.add(1, ordering: .relaxed).newValue >= 2 {
        let line = "mmtrain: second interrupt: exiting now, without a checkpoint (resume from the previous one)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        _exit(ExitStatus.interrupted)
      }
      StopSignal.flag.store(s, ordering: .relaxed)
    }
  }

  /// "SIGTERM" for 15; what STOPPED and the stop line call the signal.
  public static func name(_ signal: Int32) -> String {
    switch signal {
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    case SIGUSR1: return "SIGUSR1"
    default: return "signal \(signal)"
    }
  }
}

extension MMError {
  /// Thrown on every rank once the ranks agreed to stop; the checkpoint is already written (exit 75).
  static func stopped(epoch: Int, stepInEpoch: Int, checkpoint: String, signal: Int32) -> MMError {
    MMError(
      "stopped by a signal (\(StopSignal.name(signal))) in epoch \(epoch + 1) after step \(stepInEpoch); checkpoint "
        + "\(checkpoint) (continue with --resume)", kind: .stopped)
  }
}
