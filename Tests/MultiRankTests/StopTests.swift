import Foundation
import TestSupport
import XCTest

/// A signal stops every rank at the same step with a checkpoint and exit code 75; resuming from it ends
/// bitwise equal to a run that was never stopped. Also: a diverging run is reported once.
final class StopTests: MultiRankTestCase {
  let ranks = 2

  func config(runDir: String) throws -> RunConfig {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: 400, to: data) }
    var config = RunConfig.small(data: data, runDir: runDir)
    config["train.optimizer"] = "adam"
    config["train.lr"] = "0.01"
    config["train.epochs"] = "60"   // long enough that the signal lands mid-run
    config["train.batch_size"] = "16"
    return config
  }

  func testSignalStopsAllRanksWithACheckpointAndResumeIsExact() throws {
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    let stoppedConfig = try config(runDir: stoppedDir).write(to: path("stopped.yaml"))
    let stopped = try mmtrain(ranks: ranks, ["train", "--config", stoppedConfig, "--progress", "lines"],
                              signal: (SIGUSR1, "epoch 2/60"))
    XCTAssertEqual(stopped.status, 75, "stopped by a signal: EX_TEMPFAIL. \(stopped.transcript)")
    guard stopped.status == 75 else { return }
    XCTAssertEqual(occurrences(of: "stopped by a signal", in: stopped.stderr), 1, stopped.transcript)
    let completed = try RunOutputs.metrics(runDir: stoppedDir).count
    XCTAssertLessThan(completed, 60, "the run stopped early")

    let resumed = try mmtrain(ranks: ranks, ["train", "--resume", stoppedDir, "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    let straightConfig = try config(runDir: straightDir).write(to: path("straight.yaml"))
    let straight = try mmtrain(ranks: ranks, ["train", "--config", straightConfig, "--progress", "lines"])
    XCTAssertEqual(straight.status, 0, straight.transcript)
    guard resumed.status == 0, straight.status == 0 else { return }
    for group in ["/params", "/optimizer"] {
      let expected = try RunOutputs.tensors(group, of: straightDir + "/latest")
      let actual = try RunOutputs.tensors(group, of: stoppedDir + "/latest")
      XCTAssertFalse(expected.isEmpty)
      for (name, values) in expected {
        XCTAssertTrue(actual[name] == values, "\(group)/\(name) differs after stop + resume (must be bitwise equal)")
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
