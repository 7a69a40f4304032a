import Foundation

/// The one console channel: lines and a progress bar on stdout, warnings and errors on stderr, each as
/// `mmtrain: warning: ...` / `mmtrain: error: ...`. Only the rank that speaks (rank 0 of the job, or of a cv
/// fold group) prints lines, the bar and warnings; an error is printed by whichever rank found it.
///
/// A live bar is drawn only when stdout is a terminal: batch logs under Slurm and pipes get plain lines, so
/// logs never fill with carriage returns.
public final class Console {
  public enum Mode: String, CaseIterable, Sendable { case auto, bar, lines }

  public let speaks: Bool
  let bar: Bool
  var lastDraw = 0.0

  public init(mode: Mode = .lines, speaks: Bool) {
    self.speaks = speaks
    bar = speaks && (mode == .bar || (mode == .auto && Console.stdoutIsTerminal()))
  }

  /// The rank the launcher gave this process (mpirun, srun with PMIx/PMI, Slurm), read before MPI starts;
  /// nil when no launcher started it.
  public static var launcherRank: Int? {
    let env = ProcessInfo.processInfo.environment
    for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
      if let v = env[key], let r = Int(v) { return r }
    }
    return nil
  }

  /// Before MPI starts: the process the launcher calls rank 0 speaks.
  public static var launcherSpeaks: Bool { (launcherRank ?? 0) == 0 }

  /// OpenMPI hands each rank a pseudo-terminal even when mpirun's own output goes to a file, so under a
  /// launcher the bar is drawn only if the launcher's stdout (the parent process's fd 1) is a terminal too.
  static func stdoutIsTerminal() -> Bool {
    guard isatty(STDOUT_FILENO) != 0 else { return false }
    let env = ProcessInfo.processInfo.environment
    guard env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil else { return true }
    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getppid())/fd/1")) ?? ""
    return target.hasPrefix("/dev/pts/") || target.hasPrefix("/dev/tty")
  }

  /// A line on stdout (clearing the bar first).
  public func line(_ text: String) {
    guard speaks else { return }
    if bar { print("\r\u{1B}[2K", terminator: "") }
    print(text)
    fflush(stdout)
  }

  /// `mmtrain: warning: ...` on stderr, from the rank that speaks.
  public func warning(_ text: String) {
    guard speaks else { return }
    Console.warning(text)
  }

  /// `mmtrain: warning: ...` on stderr, from this process whatever its rank.
  public static func warning(_ text: String) {
    FileHandle.standardError.write(Data("mmtrain: warning: \(text)\n".utf8))
  }

  /// `mmtrain: error: ...` on stderr: the one line a failure prints.
  public static func error(_ text: String) {
    FileHandle.standardError.write(Data("mmtrain: error: \(text)\n".utf8))
  }

  /// Redraws the bar (at most 10 times a second, and always on the last step).
  public func step(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double) {
    guard bar else { return }
    let now = Date().timeIntervalSinceReferenceDate
    if step < steps && now - lastDraw < 0.1 { return }
    lastDraw = now
    let width = 30, filled = steps > 0 ? width * step / steps : width
    let barText = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    print(
      String(format: "\r\u{1B}[2Kepoch %d/%d [%@] %d/%d loss %.4f", epoch, epochs, barText, step, steps, loss),
      terminator: "")
    fflush(stdout)
  }
}
