import Foundation
import MMCheckpoint
import MMConfig
import MMDistributed
import MMTraining
import TestSupport
import XCTest

/// Single-process runs of the whole loop: it learns the fusion task, checkpoints, and resumes exactly.
final class TrainerTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("trainer") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testLearnsTheInteractionAndWritesRunDirectory() throws {
    let data = try writeSynthetic(dir, samples: 400)
    let run = dir.appendingPathComponent("run")
    let t = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=12", "model.hidden=16"]))
    let last = t.history.last!
    XCTAssertLessThan(last.trainLoss, t.history.first!.trainLoss)
    // Seeded (data seed 3, train.seed 5): this run reaches validation accuracy 1.000 by epoch 12; 0.75 leaves
    // a wide margin for another CPU's sgemm kernel, and still far above chance (0.5: the label is an
    // interaction of text and audio, neither alone carries it).
    XCTAssertGreaterThan(last.valAccuracy!, 0.75, "the label is an interaction of text and audio: chance is 0.5")
    let rd = RunDirectory(path: run.path)
    XCTAssertEqual(rd.checkpoints(), ["checkpoint-e0011.h5", "checkpoint-e0012.h5"], "checkpoint.keep = 2")
    let metrics = try String(contentsOfFile: rd.metricsPath, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(metrics.count, 12)
    let json = try JSONSerialization.jsonObject(with: Data(metrics.last!.utf8)) as! [String: Any]
    XCTAssertEqual(json["epoch"] as? Int, 12)
    XCTAssertNotNil(json["val_accuracy"])
    let latest = try RunDirectory.resolveCheckpoint(run.path)
    XCTAssertTrue(latest.hasSuffix("checkpoint-e0012.h5"), latest)
    let c = try Checkpoint.read(path: latest)
    XCTAssertEqual(c.state.epoch, 12)
    let saved = try TrainConfig.parse(yaml: c.configYAML, source: "checkpoint")
    XCTAssertEqual(saved.task.classes, 2, "inferred classes are stored in the checkpoint's config")
    XCTAssertEqual(saved.train.epochs, 12)
  }

  func testResumeContinuesBitForBit() throws {
    let data = try writeSynthetic(dir)
    let straight = try trainQuietly(try makeConfig(data: data, run: dir.appendingPathComponent("a")))
    let runB = dir.appendingPathComponent("b")
    _ = try trainQuietly(try makeConfig(data: data, run: runB, ["train.epochs=2"]))
    var options = TrainingSession.Options()
    options.resume = try Checkpoint.read(path: try RunDirectory.resolveCheckpoint(runB.path))
    let resumed = try trainQuietly(try makeConfig(data: data, run: runB), options: options)
    XCTAssertEqual(resumed.history.map(\.epoch), [3, 4])
    XCTAssertEqual(
      resumed.session.model.arena.values.array, straight.session.model.arena.values.array,
      "same weights as an uninterrupted run")
    XCTAssertEqual(resumed.history.last!.trainLoss, straight.history.last!.trainLoss)
  }

  func testFreshRunRefusesToOverwriteAnotherRun() throws {
    let data = try writeSynthetic(dir)
    let run = dir.appendingPathComponent("a")
    _ = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=1"]))
    XCTAssertThrowsError(try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=1"]))) { e in
      XCTAssertTrue("\(e)".contains("already holds a run (checkpoint-e0001.h5): continue it with --resume"), "\(e)")
    }
  }

  func testResumeDropsMetricsOfEpochsAfterTheCheckpoint() throws {
    let data = try writeSynthetic(dir)
    let run = dir.appendingPathComponent("a")
    _ = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=2"]))
    // As if the run had logged epoch 3 and crashed before its checkpoint landed.
    let metrics = RunDirectory(path: run.path).metricsPath
    try (try String(contentsOfFile: metrics, encoding: .utf8) + "{\"epoch\":3,\"train_loss\":9}\n").write(
      toFile: metrics, atomically: true, encoding: .utf8)
    var options = TrainingSession.Options()
    options.resume = try Checkpoint.read(path: try RunDirectory.resolveCheckpoint(run.path))
    _ = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=3"]), options: options)
    let epochs = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").map {
      (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["epoch"] as! Int
    }
    XCTAssertEqual(epochs, [1, 2, 3])
  }

  func testInitLoadsWeightsOnly() throws {
    let data = try writeSynthetic(dir)
    let first = try trainQuietly(try makeConfig(data: data, run: dir.appendingPathComponent("a"), ["train.epochs=2"]))
    var options = TrainingSession.Options()
    options.initFrom = try Checkpoint.read(
      path: try RunDirectory.resolveCheckpoint(dir.appendingPathComponent("a").path))
    let session = try TrainingSession(
      config: try makeConfig(data: data, run: dir.appendingPathComponent("c"), ["train.epochs=1"]),
      comm: SingleProcessCommunicator(), options: options)
    XCTAssertEqual(session.model.arena.values.array, first.session.model.arena.values.array)
    let t = TrainLoop(session)
    try t.run()
    XCTAssertEqual(t.history.map(\.epoch), [1], "epochs start from 0 with --init")
    XCTAssertEqual(session.optimizer.stepCount, 6, "fresh optimiser: one epoch of 90/16 -> 6 steps")
  }
}
