import Foundation
import TestSupport
import XCTest

/// A signal stops every rank at the same step with a checkpoint and exit code 75; resuming from it ends
/// bitwise equal to a run that was never stopped. Also: a diverging run is reported once.
final class StopTests: MultiRankTestCase {
  let ranks = 2

  /// Epochs of a run that only a signal ends: however fast the machine, the signal lands mid-run. The resume
  /// then sets train.epochs (a key resume leaves free) to a few epochs past the stop, and the straight run
  /// trains that many: nothing depends on how many epochs fit between the trigger line and the signal.
  static let endless = 1_000_000

  func config(runDir: String, epochs: Int, batchSize: Int = 16, samples: Int = 400) throws -> RunConfig {
    let data = path("data-\(samples).h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: samples, to: data) }
    var config = RunConfig.small(data: data, runDir: runDir)
    config["train.optimizer"] = "adam"
    config["train.lr"] = "0.01"
    config["train.epochs"] = "\(epochs)"
    config["train.batch_size"] = "\(batchSize)"
    return config
  }

  func testSignalStopsAllRanksWithACheckpointAndResumeIsExact() throws {
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    let stoppedConfig = try config(runDir: stoppedDir, epochs: Self.endless).write(to: path("stopped.yaml"))
    let stopped = try mmtrain(
      ranks: ranks, ["train", "--config", stoppedConfig, "--progress", "lines"],
      signal: (SIGUSR1, "epoch 2/"))
    XCTAssertEqual(stopped.status, 75, "stopped by a signal: EX_TEMPFAIL. \(stopped.transcript)")
    guard stopped.status == 75 else { return }
    XCTAssertEqual(occurrences(of: "stopped by a signal (SIGUSR1)", in: stopped.stderr), 1, stopped.transcript)
    let marker = try XCTUnwrap(RunOutputs.stopMarker(runDir: stoppedDir), "RUN_DIR/STOPPED after a stop")
    XCTAssertEqual(marker["reason"], "SIGUSR1")

    let epochs = try RunOutputs.metrics(runDir: stoppedDir).count + 2
    let resumed = try mmtrain(
      ranks: ranks, ["train", "--resume", stoppedDir, "--set", "train.epochs=\(epochs)", "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertNil(RunOutputs.stopMarker(runDir: stoppedDir), "--resume removes STOPPED")
    try assertSameWeights(stoppedDir, asStraightRun: straightDir, epochs: epochs)
  }

  /// SIGTERM to mpirun (what a scheduler or `kill` sends): mpirun stops forwarding output, passes SIGTERM on
  /// to the ranks odls_base_sigkill_timeout seconds later, SIGKILLs them as long again after that, and exits 1
  /// whatever they did, so the STOPPED marker is what tells a launcher that the run stopped cleanly. The
  /// timeout is raised to 20 s: the ranks' grace to reach the next step and write the checkpoint, which a
  /// loaded machine needs.
  func testSigtermToMpirunLeavesTheMarkerAndResumesExactly() throws {
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    // 4000 samples at batch 2: 1600 steps, and one epoch line, per epoch. The ranks train on until SIGTERM
    // reaches them, while mpirun no longer reads their stdout: their epoch lines over those 20 s must fit the
    // pipe, or rank 0 blocks in write() until the SIGKILL (at 400 samples, a fast build filled it).
    let samples = 4000
    let stoppedConfig = try config(runDir: stoppedDir, epochs: Self.endless, batchSize: 2, samples: samples).write(
      to: path("stopped.yaml"))
    let stopped = try mmtrain(
      ranks: ranks, ["train", "--config", stoppedConfig, "--progress", "lines"],
      signal: (SIGTERM, "epoch 2/"), environment: ["OMPI_MCA_odls_base_sigkill_timeout": "20"])
    XCTAssertNotEqual(stopped.status, 0, stopped.transcript)
    let marker = try XCTUnwrap(
      RunOutputs.stopMarker(runDir: stoppedDir), "RUN_DIR/STOPPED after SIGTERM: \(stopped.transcript)")
    XCTAssertEqual(marker["reason"], "SIGTERM", stopped.transcript)
    let checkpoint = try XCTUnwrap(marker["checkpoint"])
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: stoppedDir + "/" + checkpoint), "STOPPED names \(checkpoint), which exists"
    )
    XCTAssertEqual(occurrences(of: "stopped by a signal (SIGTERM)", in: stopped.stderr), 1, stopped.transcript)

    let epochs = try RunOutputs.metrics(runDir: stoppedDir).count + 2
    let resumed = try mmtrain(
      ranks: ranks, ["train", "--resume", stoppedDir, "--set", "train.epochs=\(epochs)", "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertTrue(
      resumed.stdout.contains(checkpoint + " (epoch "), "names the checkpoint it loaded: \(resumed.transcript)")
    XCTAssertNil(RunOutputs.stopMarker(runDir: stoppedDir), "--resume removes STOPPED")
    try assertSameWeights(stoppedDir, asStraightRun: straightDir, epochs: epochs, batchSize: 2, samples: samples)
  }

  /// Runs the same config straight through `epochs` epochs into `straightDir` and compares the final weights
  /// and optimiser state with `runDir`'s, bit for bit.
  func assertSameWeights(
    _ runDir: String, asStraightRun straightDir: String, epochs: Int, batchSize: Int = 16, samples: Int = 400,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let straightConfig = try config(runDir: straightDir, epochs: epochs, batchSize: batchSize, samples: samples).write(
      to: path("straight.yaml"))
    let straight = try mmtrain(
      ranks: ranks, ["train", "--config", straightConfig, "--progress", "lines"], file: file, line: line)
    XCTAssertEqual(straight.status, 0, straight.transcript, file: file, line: line)
    guard straight.status == 0 else { return }
    try RunOutputs.assertBitwiseEqual(
      runDir + "/latest", straightDir + "/latest", "after stop + resume", file: file, line: line)
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
