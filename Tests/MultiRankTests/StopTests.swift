import Foundation
import TestSupport
import XCTest

/// A signal stops every rank at the same step with a checkpoint and exit code 75; resuming from it ends
/// bitwise equal to a run that was never stopped. Also: a diverging run is reported once.
final class StopTests: MultiRankTestCase {
  let ranks = 2

  func config(runDir: String, epochs: Int = 60, batchSize: Int = 16) throws -> RunConfig {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: 400, to: data) }
    var config = RunConfig.small(data: data, runDir: runDir)
    config["train.optimizer"] = "adam"
    config["train.lr"] = "0.01"
    config["train.epochs"] = "\(epochs)"   // long enough that the signal lands mid-run
    config["train.batch_size"] = "\(batchSize)"
    return config
  }

  func testSignalStopsAllRanksWithACheckpointAndResumeIsExact() throws {
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    let stoppedConfig = try config(runDir: stoppedDir).write(to: path("stopped.yaml"))
    let stopped = try mmtrain(ranks: ranks, ["train", "--config", stoppedConfig, "--progress", "lines"],
                              signal: (SIGUSR1, "epoch 2/60"))
    XCTAssertEqual(stopped.status, 75, "stopped by a signal: EX_TEMPFAIL. \(stopped.transcript)")
    guard stopped.status == 75 else { return }
    XCTAssertEqual(occurrences(of: "stopped by a signal (SIGUSR1)", in: stopped.stderr), 1, stopped.transcript)
    let completed = try RunOutputs.metrics(runDir: stoppedDir).count
    XCTAssertLessThan(completed, 60, "the run stopped early")
    let marker = try XCTUnwrap(RunOutputs.stopMarker(runDir: stoppedDir), "RUN_DIR/STOPPED after a stop")
    XCTAssertEqual(marker["reason"], "SIGUSR1")

    let resumed = try mmtrain(ranks: ranks, ["train", "--resume", stoppedDir, "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertNil(RunOutputs.stopMarker(runDir: stoppedDir), "--resume removes STOPPED")
    try assertSameWeights(stoppedDir, asStraightRun: straightDir)
  }

  /// SIGTERM to mpirun (what a scheduler or `kill` sends): mpirun passes SIGTERM on to the ranks after
  /// odls_base_sigkill_timeout seconds (raised here so a debug build on a loaded machine makes it) and exits
  /// 1 whatever they do, so the STOPPED marker is what tells a launcher that the run stopped cleanly.
  func testSigtermToMpirunLeavesTheMarkerAndResumesExactly() throws {
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    // Batch 2: many short steps per epoch, so the run outlasts mpirun's 2 s before it passes SIGTERM on, while
    // printing few epoch lines: after SIGTERM mpirun stops reading the ranks' stdout, and a rank that fills the
    // pipe blocks in write() until the SIGKILL (150 epochs of batch 16 printed ~100 lines/s).
    let stoppedConfig = try config(runDir: stoppedDir, epochs: 300, batchSize: 2).write(to: path("stopped.yaml"))
    let stopped = try mmtrain(ranks: ranks, ["train", "--config", stoppedConfig, "--progress", "lines"],
                              signal: (SIGTERM, "epoch 2/300"), environment: ["OMPI_MCA_odls_base_sigkill_timeout": "2"])
    XCTAssertNotEqual(stopped.status, 0, stopped.transcript)
    let marker = try XCTUnwrap(RunOutputs.stopMarker(runDir: stoppedDir), "RUN_DIR/STOPPED after SIGTERM: \(stopped.transcript)")
    XCTAssertEqual(marker["reason"], "SIGTERM", stopped.transcript)
    let checkpoint = try XCTUnwrap(marker["checkpoint"])
    XCTAssertTrue(FileManager.default.fileExists(atPath: stoppedDir + "/" + checkpoint), "STOPPED names \(checkpoint), which exists")
    XCTAssertEqual(occurrences(of: "stopped by a signal (SIGTERM)", in: stopped.stderr), 1, stopped.transcript)
    XCTAssertLessThan(try RunOutputs.metrics(runDir: stoppedDir).count, 300, "the run stopped early")

    let resumed = try mmtrain(ranks: ranks, ["train", "--resume", stoppedDir, "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains(checkpoint + " (epoch "), "names the checkpoint it loaded: \(resumed.transcript)")
    XCTAssertNil(RunOutputs.stopMarker(runDir: stoppedDir), "--resume removes STOPPED")
    try assertSameWeights(stoppedDir, asStraightRun: straightDir, epochs: 300, batchSize: 2)
  }

  /// Runs the same config straight through into `straightDir` and compares the final weights and optimiser
  /// state with `runDir`'s, bit for bit.
  func assertSameWeights(
    _ runDir: String, asStraightRun straightDir: String, epochs: Int = 60, batchSize: Int = 16, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let straightConfig = try config(runDir: straightDir, epochs: epochs, batchSize: batchSize).write(to: path("straight.yaml"))
    let straight = try mmtrain(ranks: ranks, ["train", "--config", straightConfig, "--progress", "lines"], file: file, line: line)
    XCTAssertEqual(straight.status, 0, straight.transcript, file: file, line: line)
    guard straight.status == 0 else { return }
    for group in ["/params", "/optimizer"] {
      let expected = try RunOutputs.tensors(group, of: straightDir + "/latest")
      let actual = try RunOutputs.tensors(group, of: runDir + "/latest")
      XCTAssertFalse(expected.isEmpty, file: file, line: line)
      for (name, values) in expected {
        XCTAssertTrue(actual[name] == values, "\(group)/\(name) differs after stop + resume (must be bitwise equal)", file: file, line: line)
      }
    }
  }

  func testDivergenceIsReportedOnceAndEveryRankExits() throws {
    var config = RunConfig.small(data: try TestData.synth(samples: 48, to: path("data.h5")), runDir: path("run"))
    config["train.lr"] = "1.0e+38"
    let run = try mmtrain(ranks: 4, ["train", "--config", try config.write(to: path("c.yaml"))], timeout: 60)
    XCTAssertEqual(run.status, 1, run.transcript)
    XCTAssertEqual(occurrences(of: "training diverged", in: run.stderr), 1, run.transcript)
    XCTAssertEqual(occurrences(of: "mmtrain: error:", in: run.stderr), 1, run.transcript)
  }
}
