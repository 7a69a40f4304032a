import Foundation
import TestSupport
import XCTest

/// A checkpoint continues a run exactly: same world size, same reduction order, so the same bits.
final class ResumeTests: MultiRankTestCase {
  let ranks = 2

  /// Adam, so the resumed state includes both moment buffers and the step count behind bias correction.
  func config(runDir: String, epochs: Int) throws -> RunConfig {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: 48, to: data) }
    var config = RunConfig.small(data: data, runDir: runDir)
    config["train.optimizer"] = "adam"
    config["train.lr"] = "0.01"
    config["train.epochs"] = "\(epochs)"
    return config
  }

  func testResumedRunEndsBitwiseEqualToAStraightRun() throws {
    let straightDir = path("run-straight"), resumedDir = path("run-resumed")
    let straightConfig = try config(runDir: straightDir, epochs: 4).write(to: path("straight.yaml"))
    let straight = try mmtrain(ranks: ranks, ["train", "--config", straightConfig])
    XCTAssertEqual(straight.status, 0, straight.transcript)

    let firstHalfConfig = try config(runDir: resumedDir, epochs: 2).write(to: path("resumed.yaml"))
    let firstHalf = try mmtrain(ranks: ranks, ["train", "--config", firstHalfConfig])
    XCTAssertEqual(firstHalf.status, 0, firstHalf.transcript)
    XCTAssertEqual(try RunOutputs.metrics(runDir: resumedDir).count, 2)
    let secondHalf = try mmtrain(ranks: ranks, ["train", "--resume", resumedDir, "--set", "train.epochs=4"])
    XCTAssertEqual(secondHalf.status, 0, secondHalf.transcript)
    guard straight.status == 0, firstHalf.status == 0, secondHalf.status == 0 else { return }
    XCTAssertEqual(secondHalf.stdoutLines(startingWith: "epoch ").map { $0.prefix(9) }, ["epoch 3/4", "epoch 4/4"],
                   secondHalf.transcript)

    for group in ["/params", "/optimizer"] {
      let expected = try RunOutputs.tensors(group, of: straightDir + "/latest")
      let actual = try RunOutputs.tensors(group, of: resumedDir + "/latest")
      XCTAssertFalse(expected.isEmpty, "\(group) is empty")
      XCTAssertEqual(Set(actual.keys), Set(expected.keys), group)
      for (name, values) in expected {
        XCTAssertTrue(actual[name] == values, "\(group)/\(name) differs after resuming (must be bitwise equal)")
      }
    }

    let straightMetrics = try RunOutputs.metrics(runDir: straightDir)
    let resumedMetrics = try RunOutputs.metrics(runDir: resumedDir)
    XCTAssertEqual(resumedMetrics.compactMap { $0["epoch"] as? Int }, [1, 2, 3, 4], "metrics.jsonl after the resume")
    XCTAssertEqual(straightMetrics.compactMap { $0["epoch"] as? Int }, [1, 2, 3, 4])
    for (a, b) in zip(straightMetrics, resumedMetrics) {
      XCTAssertEqual(a["train_loss"] as? Double, b["train_loss"] as? Double, "epoch \(a["epoch"] ?? "?") train_loss")
    }
  }

  func testInitLoadsTheWeightsOfACheckpointFile() throws {
    let sourceDir = path("run-source"), initDir = path("run-init")
    let sourceConfig = try config(runDir: sourceDir, epochs: 2).write(to: path("source.yaml"))
    let source = try mmtrain(ranks: ranks, ["train", "--config", sourceConfig])
    XCTAssertEqual(source.status, 0, source.transcript)
    guard source.status == 0 else { return }

    // One epoch of SGD at a vanishing learning rate: the weights stay those of the checkpoint, which a
    // fresh initialisation would not be.
    var initConfig = try config(runDir: initDir, epochs: 1)
    initConfig["train.optimizer"] = "sgd"
    initConfig["train.lr"] = "1e-9"
    initConfig["train.momentum"] = "0"
    let loaded = try mmtrain(ranks: ranks, ["train", "--config", try initConfig.write(to: path("init.yaml")), "--init", sourceDir + "/latest"])
    XCTAssertEqual(loaded.status, 0, loaded.transcript)
    guard loaded.status == 0 else { return }
    XCTAssertEqual(loaded.stdoutLines(startingWith: "epoch ").map { $0.prefix(9) }, ["epoch 1/1"], loaded.transcript)
    XCTAssertEqual(try RunOutputs.metrics(runDir: initDir).compactMap { $0["epoch"] as? Int }, [1],
                   "--init starts the epoch count afresh")

    let expected = try RunOutputs.tensors("/params", of: sourceDir + "/latest")
    let actual = try RunOutputs.tensors("/params", of: initDir + "/latest")
    XCTAssertFalse(expected.isEmpty)
    XCTAssertEqual(Set(actual.keys), Set(expected.keys))
    for (name, values) in expected {
      guard let got = actual[name], got.count == values.count else { XCTFail("/params/\(name) missing"); continue }
      XCTAssertLessThan(maxRelativeDifference(got, values), 1e-5, "/params/\(name) was not loaded by --init")
    }
  }
}
