import Foundation
import MMCore

/// One run at a time in a run directory. Two runs writing into one RUN_DIR would interleave metrics.jsonl and
/// overwrite each other's checkpoints and split, both exiting 0; so rank 0 holds a lock on `RUN_DIR/.lock`
/// for the life of the run, and a second run is refused with one line naming the holder.
///
/// The lock is a POSIX record lock (fcntl, open-file-description locks): the kernel drops it when the
/// holder exits or dies, so a crashed run never leaves a stale lock, and NFS (lockd/NLM, NFSv4) and Lustre
/// (mounted with `flock` or `localflock`) carry it between hosts. The file itself only says who holds it
/// (host, PID, start time, command); it is left in place after the run.
///
/// `exclusive` is for a run that owns the directory (train, a whole cv run); `shared` for the `cv --fold K`
/// jobs of one cv run, which may run side by side in RUN_DIR (each holds its fold-K folder exclusively)
/// but not next to a whole cv run or a train run there.
public final class RunLock {
  public enum Mode { case exclusive, shared }

  public static let fileName = ".lock"
  public let path: String
  private var fd: Int32

  /// Takes the lock on `directory` (which must exist), or throws naming who holds it. `command` describes
  /// this run for whoever is refused next ("mmtrain train", "mmtrain cv --fold 2").
  public init(directory: String, mode: Mode = .exclusive, command: String = RunLock.commandLine) throws {
    path = directory + "/" + RunLock.fileName
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw MMError(
        "\(path): cannot create the run directory's lock file: \(String(cString: strerror(errno))) (is checkpoint.dir writable?)"
      )
    }
    var lock = flock()
    lock.l_type = Int16(mode == .exclusive ? F_WRLCK : F_RDLCK)
    lock.l_whence = Int16(SEEK_SET)
    lock.l_start = 0
    lock.l_len = 0  // the whole file
    if fcntl(fd, RunLock.setLock, &lock) != 0 {
      let reason = errno
      defer { close(fd); fd = -1 }
      if reason == EAGAIN || reason == EACCES {
        throw MMError(
          "checkpoint.dir '\(directory)' is in use by another run (\(RunLock.holder(path))); two runs in one run "
            + "directory would overwrite each other's checkpoints: wait for it to end, or choose another checkpoint.dir"
        )
      }
      throw MMError(
        "\(path): cannot lock the run directory: \(String(cString: strerror(reason))) (on NFS the lock daemon must run; "
          + "on Lustre mount with -o flock)")
    }
    let host = ProcessInfo.processInfo.hostName
    let started = ISO8601DateFormatter().string(from: Date())
    let text = "host: \(host)\npid: \(getpid())\nstarted: \(started)\ncommand: \(command)\n"
    // Shared holders write too (the last one's text stays): whoever is refused learns of a current holder.
    ftruncate(fd, 0)
    _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
  }

  /// This process's command line, as the lock file names it.
  public static var commandLine: String {
    (["mmtrain"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
  }

  /// F_OFD_SETLK: a lock owned by this open file, not by the process, so no other descriptor of the same
  /// file (HDF5's, a test's) can drop it by closing. Glibc defines it only under _GNU_SOURCE, so the value
  /// (the same on every Linux architecture) is written here.
  static let setLock: Int32 = 37

  /// Who holds the lock, from the file's text ("mmtrain train, pid 123 on node1 since ...").
  static func holder(_ path: String) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else {
      return "a run that has not yet said who it is"
    }
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    return
      "\(fields["command"] ?? "mmtrain"), pid \(fields["pid"] ?? "?") on \(fields["host"] ?? "?") since \(fields["started"] ?? "?")"
  }

  /// Gives the lock up; `removingFile` also deletes the lock file (a run that leaves no run directory).
  public func release(removingFile: Bool = false) {
    guard fd >= 0 else { return }
    if removingFile { unlink(path) }
    close(fd)
    fd = -1
  }

  deinit { release() }
}
