import Foundation
import TestSupport
import XCTest

/// launch/mpi-env.sh's `mpirun_quiet`: after mmtrain has reported, the user sees its one line, not OpenMPI's
/// banners; mpirun's exit status is kept, and mpirun's own launch errors still show. launch/submit without a
/// Slurm (--dry-run, or a stand-in sbatch): the config snapshot, its checks, the merge job's options
/// (launch/slurm-test.sh runs it on a real Slurm).
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
    XCTAssertEqual(
      quiet.stderr.split(separator: "\n").filter { !$0.isEmpty },
      ["mmtrain: error: \(path("missing.h5")): no such file"],
      "one line, no OpenMPI banner: \(quiet.stderr)")
    let verbose = try bash(
      "MMTRAIN_MPIRUN_VERBOSE=1 mpirun_quiet -n 2 --oversubscribe '\(binary)' train --config '\(file)'")
    XCTAssertTrue(
      verbose.stderr.contains("exited with non-zero status"), "diagnostics back on request: \(verbose.stderr)")
    let launchError = try bash("mpirun_quiet -n 2 --oversubscribe '\(path("no-such-program"))'")
    XCTAssertNotEqual(launchError.status, 0)
    XCTAssertTrue(
      launchError.stderr.contains("no-such-program"), "mpirun's own launch errors still show: \(launchError.stderr)")
  }

  // MARK: - launch/submit

  /// A valid config over a real data file (batch 12), written to c.yaml.
  func submitConfig() throws -> String {
    let data = try TestData.synth(samples: 48, to: path("data.h5"))
    return try RunConfig.small(data: data, runDir: path("run")).write(to: path("c.yaml"))
  }

  /// `launch/submit ARGS` with this build's mmtrain, in the test's folder; `path` is put first on PATH.
  func submit(_ args: [String], path extraPath: String? = nil) throws -> (status: Int32, stdout: String, stderr: String)
  {
    let binary = try XCTUnwrap(Harness.mmtrainBinary())
    let script = packageRoot().appendingPathComponent("launch/submit").path
    let quoted = ([script] + args).map { "'\($0)'" }.joined(separator: " ")
    let pathVar = extraPath.map { "PATH='\($0)':\"$PATH\" " } ?? ""
    return try bash("\(pathVar)MMTRAIN_BIN='\(binary)' \(quoted)")
  }

  /// The lines of `text` that are not empty.
  func lines(_ text: String) -> [Substring] { text.split(separator: "\n").filter { !$0.isEmpty } }

  func testDryRunShowsTheSnapshotWithSetAndWritesNothing() throws {
    let config = try submitConfig()
    let run = try submit([config, "--dry-run", "--set", "train.epochs=7", "--set", "train.lr=0.5"])
    XCTAssertEqual(run.status, 0, run.stderr)
    XCTAssertTrue(run.stdout.contains("CONFIG=\(path("run"))/submit/"), "the job runs the snapshot: \(run.stdout)")
    XCTAssertTrue(run.stdout.contains("# the job runs this config snapshot, \(path("run"))/submit/"), run.stdout)
    XCTAssertTrue(
      run.stdout.contains("\n#     epochs: 7\n") && run.stdout.contains("\n#     lr: 0.5\n"),
      "--set reaches the snapshot: \(run.stdout)")
    XCTAssertTrue(run.stdout.contains("\n#     path: \(path("data.h5"))\n"), "absolute paths: \(run.stdout)")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "--dry-run writes nothing")
  }

  func testSeveralNodesGetAnEvenTasksPerNode() throws {
    let config = try submitConfig()
    let even = try submit([config, "--dry-run", "--nodes", "2", "--tasks", "4"])
    XCTAssertEqual(even.status, 0, even.stderr)
    XCTAssertTrue(even.stdout.contains("\n#SBATCH --nodes=2\n#SBATCH --ntasks=4\n"), even.stdout)
    XCTAssertTrue(even.stdout.contains("\n#SBATCH --ntasks-per-node=2\n"), even.stdout)
    let uneven = try submit([config, "--dry-run", "--nodes", "2", "--tasks", "3"])
    XCTAssertEqual(uneven.status, 0, uneven.stderr)
    XCTAssertFalse(uneven.stdout.contains("--ntasks-per-node"), "3 tasks on 2 nodes cannot be even: \(uneven.stdout)")
    let one = try submit([config, "--dry-run", "--tasks", "2"])
    XCTAssertFalse(one.stdout.contains("--ntasks-per-node"), "one node needs none: \(one.stdout)")
  }

  func testTimeLimitsSlurmWouldNotParseAreOneLine() throws {
    let config = try submitConfig()
    for bad in ["1h", "90min", "1:2:3:4", "1-", "12:00:00x"] {
      let run = try submit([config, "--dry-run", "--time", bad])
      XCTAssertEqual(run.status, 64, "\(bad): \(run.stderr)")
      XCTAssertEqual(lines(run.stderr).count, 1, run.stderr)
      XCTAssertTrue(run.stderr.hasPrefix("submit: error: --time '\(bad)' is not a Slurm time limit"), run.stderr)
    }
    for good in ["90", "90:30", "12:00:00", "2-12", "2-12:30", "2-12:30:00", "UNLIMITED", "infinite"] {
      let run = try submit([config, "--dry-run", "--time", good])
      XCTAssertEqual(run.status, 0, "\(good): \(run.stderr)")
      XCTAssertTrue(run.stdout.contains("#SBATCH --time=\(good)\n"), run.stdout)
    }
  }

  func testMissingDataFileIsOneLine() throws {
    let config = try submitConfig()
    let run = try submit([config, "--dry-run", "--set", "data.path=\(path("missing.h5"))"])
    XCTAssertEqual(run.status, 64, run.stderr)
    XCTAssertEqual(lines(run.stderr), ["submit: error: data.path in \(config): \(path("missing.h5")): no such file"])
  }

  func testDataFileThatIsNotHDF5IsOneLine() throws {
    let config = try submitConfig()
    try "a,b\n1,2\n".write(toFile: path("table.h5"), atomically: true, encoding: .utf8)
    let run = try submit([config, "--dry-run", "--set", "data.path=\(path("table.h5"))"])
    XCTAssertEqual(run.status, 64, run.stderr)
    XCTAssertEqual(lines(run.stderr).count, 1, run.stderr)
    XCTAssertTrue(run.stderr.contains("data.path in \(config): \(path("table.h5")): not an HDF5 file"), run.stderr)
  }

  func testTasksAboveTheBatchSizeAreOneLine() throws {
    let config = try submitConfig()
    let run = try submit([config, "--dry-run", "--tasks", "13"])
    XCTAssertEqual(run.status, 64, run.stderr)
    XCTAssertEqual(lines(run.stderr).count, 1, run.stderr)
    XCTAssertTrue(
      run.stderr.hasPrefix("submit: error: --tasks 13 is more than train.batch_size 12 in \(config)"), run.stderr)
    XCTAssertEqual(try submit([config, "--dry-run", "--tasks", "12"]).status, 0)
    XCTAssertEqual(try submit([config, "--dry-run", "--tasks", "13", "--set", "train.batch_size=13"]).status, 0)
  }

  func testTheMergeJobGetsThePartitionAndTheArgsAfterTheDashes() throws {
    let config = try submitConfig()
    let run = try submit([
      config, "--cv", "--array-folds", "--partition", "P", "--account", "A", "--dry-run", "--", "--hold", "--qos=low",
    ])
    XCTAssertEqual(run.status, 0, run.stderr)
    let merge = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("# then: sbatch ") }, run.stdout)
    for option in ["--partition=P", "--account=A", "--hold", "--qos=low", "--time=01:00:00"] {
      XCTAssertTrue(merge.contains(" \(option) "), "the merge job gets \(option): \(merge)")
    }
    XCTAssertTrue(run.stdout.contains("#SBATCH --partition=P\n") && run.stdout.contains("#SBATCH --hold\n"), run.stdout)
  }

  /// A stand-in sbatch (and scancel) in bin/: logs its arguments to sbatch.log, answers job 101, refuses a
  /// --wrap job (the merge job) when `refuseMerge`; scancel fails when `scancelFails`.
  func fakeSlurm(refuseMerge: Bool = false, scancelFails: Bool = false) throws -> String {
    let bin = path("bin")
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let sbatch = """
      #!/bin/bash
      echo "$*" >>'\(path("sbatch.log"))'
      for a in "$@"; do [ "$a" = --wrap ] && [ \(refuseMerge ? 1 : 0) = 1 ] && { echo "sbatch: error: invalid partition specified: P" >&2; exit 1; }; done
      for a in "$@"; do [ "$a" = --wrap ] && { echo 102; exit 0; }; done
      echo 101
      """
    let scancel =
      scancelFails
      ? "#!/bin/bash\necho \"scancel: error: Invalid job id $1\" >&2\nexit 1\n"
      : "#!/bin/bash\necho \"$*\" >>'\(path("scancel.log"))'\n"
    for (name, text) in [("sbatch", sbatch), ("scancel", scancel)] {
      try text.write(toFile: bin + "/" + name, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/" + name)
    }
    return bin
  }

  func testTheJobRunsASnapshotThatLaterEditsDoNotTouch() throws {
    let config = try submitConfig()
    let run = try submit([config, "--set", "train.lr=0.25", "--", "--hold"], path: try fakeSlurm())
    XCTAssertEqual(run.status, 0, run.stderr)
    let line = try XCTUnwrap(lines(run.stdout).first { $0.hasPrefix("config:  ") }, run.stdout)
    XCTAssertTrue(line.hasSuffix(" (the job runs this copy)"), String(line))
    let snapshot = String(line.dropFirst("config:  ".count).dropLast(" (the job runs this copy)".count))
    let folder = (snapshot as NSString).deletingLastPathComponent
    XCTAssertTrue(folder.hasPrefix(path("run") + "/submit/"), snapshot)
    // The user edits the original while the job is held: the snapshot keeps what was submitted.
    try "data:\n  path: elsewhere.h5\n".write(toFile: config, atomically: true, encoding: .utf8)
    let text = try String(contentsOfFile: snapshot, encoding: .utf8)
    XCTAssertTrue(text.contains("\n  lr: 0.25\n") && text.contains("\n  path: \(path("data.h5"))\n"), text)
    let job = try String(contentsOfFile: folder + "/job.sbatch", encoding: .utf8)
    XCTAssertTrue(job.contains("\nCONFIG=\(snapshot)\n") && job.contains("\n#SBATCH --hold\n"), job)
    let sbatch = try String(contentsOfFile: path("sbatch.log"), encoding: .utf8)
    XCTAssertEqual(sbatch, "--parsable \(folder)/job.sbatch\n", "sbatch gets the file beside the snapshot")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["config.yaml", "job.sbatch"])
  }

  func testARefusedMergeJobCancelsTheArray() throws {
    let config = try submitConfig()
    let run = try submit([config, "--cv", "--array-folds", "--partition", "P"], path: try fakeSlurm(refuseMerge: true))
    XCTAssertEqual(run.status, 1, run.stderr)
    XCTAssertEqual(
      lines(run.stderr),
      [
        "submit: error: sbatch refused the merge job (sbatch: error: invalid partition specified: P); cancelled the fold array job 101, so nothing runs: fix that and submit again"
      ])
    XCTAssertEqual(try String(contentsOfFile: path("scancel.log"), encoding: .utf8), "101\n")
  }

  func testAMergeJobNeitherQueuedNorCancelledSaysHowToMerge() throws {
    let config = try submitConfig()
    let run = try submit([config, "--cv", "--array-folds"], path: try fakeSlurm(refuseMerge: true, scancelFails: true))
    XCTAssertEqual(run.status, 1, run.stderr)
    XCTAssertEqual(lines(run.stderr).count, 1, run.stderr)
    XCTAssertTrue(run.stderr.contains("scancel 101 failed (scancel: error: Invalid job id 101)"), run.stderr)
    XCTAssertTrue(
      run.stderr.contains("after the array job 101 ends, merge by hand: ")
        && run.stderr.contains(" cv --merge \(path("run"))"), run.stderr)
  }

  // MARK: - mmtrain config --get, inspect (the command lines scripts rely on)

  func testConfigGetPrintsOneValueOrOneLine() throws {
    let config = try submitConfig()
    let value = try mmtrain(
      ranks: 0, ["config", "--get", "checkpoint.dir", "--config", config, "--set", "train.epochs=5"])
    XCTAssertEqual(value.status, 0, value.transcript)
    XCTAssertEqual(value.stdout, path("run") + "\n")
    XCTAssertEqual(
      try mmtrain(ranks: 0, ["config", "--get", "train.epochs", "--config", config, "--set", "train.epochs=5"]).stdout,
      "5\n")
    XCTAssertEqual(
      try mmtrain(ranks: 0, ["config", "--get", "train.epochs"]).stdout, "10\n", "the default without --config")
    let typo = try mmtrain(ranks: 0, ["config", "--get", "train.batchsize", "--config", config])
    XCTAssertEqual(typo.status, 64, typo.transcript)
    XCTAssertEqual(
      lines(typo.stderr), ["mmtrain: error: --get: unknown key 'train.batchsize' (did you mean 'train.batch_size'?)"])
    XCTAssertEqual(typo.stdout, "")
  }

  func testInspectCallsAnUnlabelledFileUsableForPredict() throws {
    let data = try TestData.write(path("unlabelled.h5")) { f in
      try f.writeFloats("/modalities/text", (0..<24).map(Float.init), shape: [4, 3, 2])
    }
    let run = try mmtrain(ranks: 0, ["inspect", data])
    XCTAssertEqual(run.status, 0, run.transcript)
    XCTAssertTrue(run.stdout.hasSuffix("usable for predict (no /labels: not for training)\n"), run.transcript)
  }
}
