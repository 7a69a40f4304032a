// Launching the built `mmtrain` under `mpirun`, the way a user does, and collecting what it printed.
// A run that stops making progress (neither stdout nor stderr grows for its timeout) is killed (with every
// process it started) and is a test failure: a hang is the worst way a multi-rank program can fail. A slow,
// loaded machine is not a hang: as long as output keeps coming, the run goes on (up to an absolute cap).
import Foundation
import TestSupport
import XCTest

/// What one `mpirun` invocation left behind.
struct MPIRun {
  let command: String
  let status: Int32
  let stdout: String
  let stderr: String
  let seconds: Double

  /// Lines of stdout that start with `prefix` (rank 0's epoch lines start with "epoch ").
  func stdoutLines(startingWith prefix: String) -> [Substring] {
    stdout.split(separator: "\n").filter { $0.hasPrefix(prefix) }
  }

  /// The lines mmtrain itself reported as errors (mpirun adds its own banners around them).
  var errorLines: [Substring] {
    stderr.split(separator: "\n").filter { $0.hasPrefix("mmtrain: error:") }
  }

  /// For failure messages: the command and everything it printed.
  var transcript: String {
    "\(command)\n  exit status \(status) after \(String(format: "%.1f", seconds)) s\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)"
  }
}

enum Harness {
  /// The `mmtrain` executable under test, or nil after recording a failure that says how to build it.
  ///
  /// Order: $MMTRAIN_BIN; `mmtrain` beside the running test bundle (on Linux arguments[0] is
  /// `<scratch>/<triple>/debug/mmtrainPackageTests.xctest`, an executable in the same folder as `mmtrain`;
  /// on macOS it sits a few folders deeper inside the bundle); `<package>/.build/debug/mmtrain`.
  static func mmtrainBinary(file: StaticString = #filePath, line: UInt = #line) -> String? {
    if let explicit = ProcessInfo.processInfo.environment["MMTRAIN_BIN"], !explicit.isEmpty {
      if isExecutableFile(explicit) { return explicit }
      XCTFail(
        "MMTRAIN_BIN=\(explicit) is not an executable file; build the binary first: swift build", file: file, line: line
      )
      return nil
    }
    var candidates: [String] = []
    var folder = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 where folder.path != "/" {
      candidates.append(folder.appendingPathComponent("mmtrain").path)
      folder.deleteLastPathComponent()
    }
    candidates.append(packageRoot().appendingPathComponent(".build/debug/mmtrain").path)
    if let found = candidates.first(where: isExecutableFile) { return found }
    XCTFail(
      "mmtrain binary not found (looked at \(candidates.joined(separator: ", ")), and MMTRAIN_BIN is unset); "
        + "build the binary first: swift build", file: file, line: line)
    return nil
  }

  private static func isExecutableFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
      && FileManager.default.isExecutableFile(atPath: path)
  }

  /// `mpirun` from PATH.
  static func mpirun() -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/mpirun" }.first(where: isExecutableFile)
  }

  /// Runs `mpirun -n <ranks> --oversubscribe <mmtrain> <args...>` in `directory`, killing it as hung when
  /// neither its stdout nor its stderr has grown for `timeout` seconds, or when it is still running after
  /// `absoluteCapFactor` × `timeout` seconds in all (output that never ends is a hang too).
  /// `environment` is laid over the inherited one (e.g. MCA settings for mpirun).
  /// Returns nil (after recording a failure) only when mmtrain or mpirun cannot be found or started.
  /// `ranks: 0` runs mmtrain directly, without mpirun (one process, no MPI). `action` runs once, with
  /// the launched process's pid, as soon as stdout contains its trigger (to stop or kill a rank, fill a disk).
  static func runMPI(
    ranks: Int, args: [String], in directory: URL? = nil, timeout: Double = 90, absoluteCapFactor: Double = 10,
    signal: (number: Int32, whenStdoutContains: String)? = nil,
    action: (whenStdoutContains: String, run: (pid_t) -> Void)? = nil,
    environment extra: [String: String] = [:],
    file: StaticString = #filePath, line: UInt = #line
  ) -> MPIRun? {
    guard let binary = mmtrainBinary(file: file, line: line) else { return nil }
    var launcher = binary, arguments = args
    if ranks > 0 {
      guard let mpirun = mpirun() else {
        XCTFail("mpirun not found in PATH (install openmpi-bin)", file: file, line: line)
        return nil
      }
      launcher = mpirun
      arguments = ["-n", "\(ranks)", "--oversubscribe", binary] + args
    }
    let command = ([ranks > 0 ? "mpirun" : "mmtrain"] + arguments).joined(separator: " ")

    // Output goes to files, not pipes: a chatty rank can never block on a full pipe nobody reads.
    let outputs = makeTemporaryDirectory("mmtrain-mpirun-output")
    defer { try? FileManager.default.removeItem(at: outputs) }
    let stdoutURL = outputs.appendingPathComponent("stdout"), stderrURL = outputs.appendingPathComponent("stderr")
    XCTAssertTrue(
      FileManager.default.createFile(atPath: stdoutURL.path, contents: nil), "cannot create \(stdoutURL.path)")
    XCTAssertTrue(
      FileManager.default.createFile(atPath: stderrURL.path, contents: nil), "cannot create \(stderrURL.path)")

    let process = Process()
    process.executableURL = URL(fileURLWithPath: launcher)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment  // OPENBLAS_* and the rest stay as inherited
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment.merge(extra) { _, new in new }
    process.environment = environment
    if let directory { process.currentDirectoryURL = directory }
    process.standardInput = FileHandle.nullDevice  // mpirun forwards stdin to rank 0; give it nothing to wait on
    do {
      process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
      process.standardError = try FileHandle(forWritingTo: stderrURL)
    } catch {
      XCTFail("cannot open output files in \(outputs.path): \(error)", file: file, line: line)
      return nil
    }

    let start = Date()
    do { try process.run() } catch {
      XCTFail("cannot start \(command): \(error)", file: file, line: line)
      return nil
    }
    var hang: String? = nil  // why the run was killed as hung
    var sizes: (stdout: UInt64, stderr: UInt64) = (0, 0)
    var grew: (stdout: Date?, stderr: Date?) = (nil, nil)  // when each last grew
    var lastGrowth = start
    var signalPending = signal
    var actionPending = action
    while process.isRunning {
      if let pending = actionPending,
        let out = try? String(contentsOf: stdoutURL, encoding: .utf8), out.contains(pending.whenStdoutContains)
      {
        actionPending = nil
        pending.run(process.processIdentifier)
      }
      // Signal mpirun once its output shows the trigger (mpirun forwards SIGUSR1 to every rank).
      if let pending = signalPending,
        let out = try? String(contentsOf: stdoutURL, encoding: .utf8), out.contains(pending.whenStdoutContains)
      {
        kill(process.processIdentifier, pending.number)
        signalPending = nil
      }
      let now = Date()
      let current = (stdout: fileSize(stdoutURL), stderr: fileSize(stderrURL))
      if current.stdout != sizes.stdout { grew.stdout = now; lastGrowth = now }
      if current.stderr != sizes.stderr { grew.stderr = now; lastGrowth = now }
      sizes = current
      func ago(_ date: Date?) -> String { date.map { "\(Int(now.timeIntervalSince($0))) s ago" } ?? "never" }
      let streams = "stdout last grew \(ago(grew.stdout)), stderr \(ago(grew.stderr))"
      if now.timeIntervalSince(lastGrowth) > timeout {
        hang = "no progress: neither stdout nor stderr grew for \(Int(timeout)) s (\(streams)); killed"
      } else if now.timeIntervalSince(start) > timeout * absoluteCapFactor {
        hang =
          "still running after the absolute cap of \(Int(timeout * absoluteCapFactor)) s although its output kept growing (\(streams)); killed"
      }
      if hang != nil {
        killTree(process.processIdentifier)
        break
      }
      usleep(20_000)
    }
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    let run = MPIRun(
      command: command, status: process.terminationStatus,
      stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "", seconds: seconds)
    if let hang {
      XCTFail("hang: \(hang): \(run.transcript)", file: file, line: line)
    }
    return run
  }

  private static func fileSize(_ url: URL) -> UInt64 {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.uint64Value ?? 0
  }

  /// Stops `root` and every process below it (the ranks mpirun forked): SIGTERM to mpirun first, which
  /// takes its ranks down and reaps them, then SIGKILL to whatever of the tree is left after a grace period.
  /// The tree is recorded before anything is signalled (ranks orphaned by mpirun's death are still found),
  /// each process with its start time, so a pid reused meanwhile by another process is never signalled.
  static func killTree(_ root: pid_t, grace: Double = 5) {
    let table = processTable()
    var tree = [root], index = 0
    while index < tree.count {
      let pid = tree[index]
      tree += table.filter { $0.value.parent == pid }.map(\.key)
      index += 1
    }
    let started = tree.compactMap { pid in table[pid].map { (pid, $0.started) } }
    kill(root, SIGTERM)
    let deadline = Date().addingTimeInterval(grace)
    while Date() < deadline, started.contains(where: { isAlive($0.0, started: $0.1) }) { usleep(50_000) }
    for (pid, start) in started.reversed() where isAlive(pid, started: start) { kill(pid, SIGKILL) }
  }

  /// The pid of rank `rank` among the processes that mpirun `launcher` started (by OMPI_COMM_WORLD_RANK in
  /// their environment), or nil.
  static func rankProcess(of launcher: pid_t, rank: Int) -> pid_t? {
    for (pid, entry) in processTable() where entry.parent == launcher {
      guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
      let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      if vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
    }
    return nil
  }

  /// Whether `pid` is still the process that started at `started` and has not exited (zombies have).
  private static func isAlive(_ pid: pid_t, started: UInt64) -> Bool {
    guard let entry = processTable(only: pid)[pid] else { return false }
    return entry.started == started && entry.state != "Z"
  }

  private struct ProcessEntry {
    let parent: pid_t
    let state: Character
    let started: UInt64  // clock ticks after boot: with the pid, names one process for good
  }

  /// Every process in /proc (or just `only`), from /proc/<pid>/stat.
  private static func processTable(only: pid_t? = nil) -> [pid_t: ProcessEntry] {
    let pids = only.map { ["\($0)"] } ?? ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [])
    var table: [pid_t: ProcessEntry] = [:]
    for entry in pids {
      guard let pid = pid_t(entry),
        let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // "pid (comm) state ppid ... starttime(22nd)": comm may hold spaces and ')', so split after the last ')'.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 19, let state = fields[0].first, let parent = pid_t(fields[1]),
        let started = UInt64(fields[19])
      else { continue }
      table[pid] = ProcessEntry(parent: parent, state: state, started: started)
    }
    return table
  }
}
