import Foundation
import TestSupport
import XCTest

/// launch/mpi-env.sh's `mpirun_quiet`: after mmtrain has reported, the user sees its one line, not OpenMPI's
/// banners; mpirun's exit status is kept, and mpirun's own launch errors still show.
final class LaunchScriptTests: MultiRankTestCase {
  /// Runs `script` with bash in this test's folder after sourcing launch/mpi-env.sh.
  func bash(_ script: String) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    let env = packageRoot().appendingPathComponent("launch/mpi-env.sh").path
    process.arguments = ["-c", ". '\(env)'; " + script]
    process.currentDirectoryURL = dir
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
  }

  func testQuietMpirunLeavesMMTrainsOneLine() throws {
    let binary = try XCTUnwrap(Harness.mmtrainBinary())
    var config = RunConfig.small(data: path("missing.h5"), runDir: path("run"))
    config["train.epochs"] = "1"
    let file = try config.write(to: path("c.yaml"))
    let quiet = try bash("mpirun_quiet -n 2 --oversubscribe '\(binary)' train --config '\(file)'")
    XCTAssertEqual(quiet.status, 1, "mpirun's status is kept: \(quiet.stderr)")
    XCTAssertEqual(quiet.stderr.split(separator: "\n").filter { !$0.isEmpty }, ["mmtrain: error: \(path("missing.h5")): no such file"],
                   "one line, no OpenMPI banner: \(quiet.stderr)")
    let verbose = try bash("MMTRAIN_MPIRUN_VERBOSE=1 mpirun_quiet -n 2 --oversubscribe '\(binary)' train --config '\(file)'")
    XCTAssertTrue(verbose.stderr.contains("exited with non-zero status"), "diagnostics back on request: \(verbose.stderr)")
    let launchError = try bash("mpirun_quiet -n 2 --oversubscribe '\(path("no-such-program"))'")
    XCTAssertNotEqual(launchError.status, 0)
    XCTAssertTrue(launchError.stderr.contains("no-such-program"), "mpirun's own launch errors still show: \(launchError.stderr)")
  }
}
