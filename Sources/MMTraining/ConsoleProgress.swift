import Foundation

/// Rank 0's console output: a live progress bar when stdout is a terminal, plain lines otherwise
/// (batch logs under Slurm, pipes), so logs never fill with carriage returns.
public final class ConsoleProgress {
  public enum Mode: String, CaseIterable, Sendable { case auto, bar, lines }
  let enabled: Bool
  let bar: Bool
  var lastDraw = 0.0

  public init(mode: Mode, isRoot: Bool) {
    enabled = isRoot
    bar = isRoot && (mode == .bar || (mode == .auto && ConsoleProgress.stdoutIsTerminal()))
  }

  /// OpenMPI hands each rank a pseudo-terminal even when mpirun's own output goes to a file, so under a
  /// launcher the bar is drawn only if the launcher's stdout (the parent process's fd 1) is a terminal too.
  static func stdoutIsTerminal() -> Bool {
    guard isatty(STDOUT_FILENO) != 0 else { return false }
    let env = ProcessInfo.processInfo.environment
    guard env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil else { return true }
    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getppid())/fd/1")) ?? ""
    return target.hasPrefix("/dev/pts/") || target.hasPrefix("/dev/tty")
  }

  public func line(_ text: String) {
    guard enabled else { return }
    if bar { print("\r\u{1B}[2K", terminator: "") }
    print(text)
    fflush(stdout)
  }

  /// Redraws the bar (at most 10 times a second, and always on the last step).
  public func step(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double) {
    guard bar else { return }
    let now = Date().timeIntervalSinceReferenceDate
    if step < steps && now - lastDraw < 0.1 { return }
    lastDraw = now
    let width = 30, filled = steps > 0 ? width * step / steps : width
    let barText = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
    print(String(format: "\r\u{1B}[2Kepoch %d/%d [%@] %d/%d loss %.4f", epoch, epochs, barText, step, steps, loss), terminator: "")
    fflush(stdout)
  }
}
