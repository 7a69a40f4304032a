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
    XCTAssertEqual(
      secondHalf.stdoutLines(startingWith: "epoch ").map { $0.prefix(9) }, ["epoch 3/4", "epoch 4/4"],
      secondHalf.transcript)

    try RunOutputs.assertBitwiseEqual(resumedDir + "/latest", straightDir + "/latest", "after resuming")

    let straightMetrics = try RunOutputs.metrics(runDir: straightDir)
    let resumedMetrics = try RunOutputs.metrics(runDir: resumedDir)
    XCTAssertEqual(resumedMetrics.compactMap { $0["epoch"] as? Int }, [1, 2, 3, 4], "metrics.jsonl after the resume")
    XCTAssertEqual(straightMetrics.compactMap { $0["epoch"] as? Int }, [1, 2, 3, 4])
    for (a, b) in zip(straightMetrics, resumedMetrics) {
      XCTAssertEqual(a["train_loss"] as? Double, b["train_loss"] as? Double, "epoch \(a["epoch"] ?? "?") train_loss")
    }
  }

  /// Relative paths are resolved where the run starts and stored absolute; `--resume RUN_DIR` continues in
  /// RUN_DIR from any working directory, with or without `--set data.path`.
  func testResumeFromAnotherWorkingDirectoryContinuesInTheRunDirectory() throws {
    let project = dir.appendingPathComponent("project"), elsewhere = dir.appendingPathComponent("elsewhere")
    for folder in [project, elsewhere] {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    _ = try TestData.synth(samples: 48, to: project.appendingPathComponent("data.h5").path)
    var relative = try config(runDir: "runs/a", epochs: 1)
    relative["data.path"] = "data.h5"
    relative["checkpoint.dir"] = "runs/a"
    let configFile = try relative.write(to: project.appendingPathComponent("c.yaml").path)
    let first = try mmtrain(ranks: ranks, ["train", "--config", configFile], in: project)
    XCTAssertEqual(first.status, 0, first.transcript)

    let runDir = project.appendingPathComponent("runs/a").path
    let resumed = try mmtrain(
      ranks: ranks, ["train", "--resume", "../project/runs/a", "--set", "train.epochs=2"], in: elsewhere)
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    let moved = try mmtrain(
      ranks: ranks,
      [
        "train", "--resume", "../project/runs/a", "--set", "train.epochs=3",
        "--set", "data.path=../project/data.h5",
      ], in: elsewhere)
    XCTAssertEqual(moved.status, 0, moved.transcript)
    guard first.status == 0, resumed.status == 0, moved.status == 0 else { return }
    XCTAssertEqual(
      try RunOutputs.metrics(runDir: runDir).compactMap { $0["epoch"] as? Int }, [1, 2, 3],
      "every resume continued in project/runs/a")
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: elsewhere.path), [], "nothing written where it was started")
    let redirected = try mmtrain(
      ranks: ranks,
      [
        "train", "--resume", "../project/runs/a", "--set", "train.epochs=4",
        "--set", "checkpoint.dir=runs/b",
      ], in: elsewhere)
    XCTAssertEqual(redirected.status, 64, "a resume continues in its run directory: \(redirected.transcript)")
    XCTAssertTrue(
      redirected.errorLines.first?.contains("--resume continues in its run directory \(runDir)") ?? false,
      redirected.transcript)
  }

  /// The checkpoint's seed fixes the validation split and the batch order: changing it on resume is refused.
  func testResumeRefusesAChangedSeed() throws {
    let runDir = path("run")
    let first = try mmtrain(
      ranks: ranks, ["train", "--config", try config(runDir: runDir, epochs: 1).write(to: path("c.yaml"))])
    XCTAssertEqual(first.status, 0, first.transcript)
    let changed = try mmtrain(
      ranks: ranks, ["train", "--resume", runDir, "--set", "train.epochs=2", "--set", "train.seed=9"])
    XCTAssertEqual(changed.status, 64, changed.transcript)
    XCTAssertEqual(changed.errorLines.count, 1, changed.transcript)
    XCTAssertTrue(
      changed.errorLines.first?.contains("train.seed = 9 differs from the checkpoint's 3") ?? false, changed.transcript)
    let same = try mmtrain(
      ranks: ranks, ["train", "--resume", runDir, "--set", "train.epochs=2", "--set", "train.seed=3"])
    XCTAssertEqual(same.status, 0, "the checkpoint's own seed is fine: \(same.transcript)")
  }

  /// The user's report: a reordered modality list kept the feature count and was loaded without a word.
  func testReorderedModalitiesAreRefusedByResumeAndInit() throws {
    let runDir = path("run")
    var trained = try config(runDir: runDir, epochs: 1)
    trained["data.modalities"] = "[text, audio, vision]"
    let first = try mmtrain(ranks: ranks, ["train", "--config", try trained.write(to: path("c.yaml"))])
    XCTAssertEqual(first.status, 0, first.transcript)
    let reordered = "data.modalities=[audio, text, vision]"
    let resumed = try mmtrain(
      ranks: ranks, ["train", "--resume", runDir, "--set", "train.epochs=2", "--set", reordered])
    XCTAssertEqual(resumed.status, 64, resumed.transcript)
    XCTAssertEqual(resumed.errorLines.count, 1, resumed.transcript)
    XCTAssertTrue(
      resumed.errorLines.first?.contains(
        "data.modalities = [audio, text, vision] differs from the checkpoint's [text, audio, vision]") ?? false,
      resumed.transcript)

    var other = try config(runDir: path("run-init"), epochs: 1)
    other["data.modalities"] = "[audio, text, vision]"
    let initialised = try mmtrain(
      ranks: ranks, ["train", "--config", try other.write(to: path("init.yaml")), "--init", runDir + "/latest"])
    XCTAssertEqual(initialised.status, 1, initialised.transcript)
    XCTAssertEqual(initialised.errorLines.count, 1, initialised.transcript)
    XCTAssertTrue(
      initialised.errorLines.first?.contains(
        "the checkpoint does not fit this run: data.modalities is [audio, text, vision], the checkpoint was trained on [text, audio, vision]"
      ) ?? false, initialised.transcript)
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
    let loaded = try mmtrain(
      ranks: ranks, ["train", "--config", try initConfig.write(to: path("init.yaml")), "--init", sourceDir + "/latest"])
    XCTAssertEqual(loaded.status, 0, loaded.transcript)
    guard loaded.status == 0 else { return }
    XCTAssertEqual(loaded.stdoutLines(startingWith: "epoch ").map { $0.prefix(9) }, ["epoch 1/1"], loaded.transcript)
    XCTAssertEqual(
      try RunOutputs.metrics(runDir: initDir).compactMap { $0["epoch"] as? Int }, [1],
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
