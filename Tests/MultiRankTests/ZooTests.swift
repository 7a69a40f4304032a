import Foundation
import TestSupport
import XCTest

/// The model zoo under data parallelism: per-modality encoders with a bidirectional GRU, dropout and
/// modality dropout train the same model on 1 and 4 ranks, resume bit for bit after a stop, and every
/// fusion really fuses. Bad architecture settings get one clear line.
final class ZooTests: MultiRankTestCase {
  /// The zoo config under test: bidirectional GRU, 2 layers (so dropout between them), dropout and
  /// modality dropout on, per-modality steps and hidden sizes.
  func zooConfig(data: String, runDir: String, fusion: String) -> RunConfig {
    var config = RunConfig.small(data: data, runDir: runDir)
    config["model.fusion"] = fusion
    config["model.cell"] = "gru"
    config["model.bidirectional"] = "true"
    config["model.layers"] = "2"
    config["model.dropout"] = "0.2"
    config["model.pooling"] = "attention"
    config["model.hidden"] = "{text: 6, audio: 5, vision: 3}"
    config["data.steps"] = "{text: \(TestData.steps), audio: \(2 * TestData.steps), vision: \(TestData.steps)}"
    config["model.head_hidden"] = "8"
    config["train.modality_dropout"] = "0.3"
    return config
  }

  /// Stated tolerance, as EquivalenceTests: float32 sums in another order over 2 epochs of SGD.
  func testLateAttentionAndGatedFusionTrainTheSameModelOnOneAndFourRanks() throws {
    let data = try TestData.synth(samples: 50, to: path("data.h5"))
    for fusion in ["late", "attention", "gated"] {
      var dirs: [Int: String] = [:]
      for ranks in [1, 4] {
        let dir = path("\(fusion)-n\(ranks)")
        let config = try zooConfig(data: data, runDir: dir, fusion: fusion).write(to: path("\(fusion)-n\(ranks).yaml"))
        let run = try mmtrain(ranks: ranks, ["train", "--config", config])
        XCTAssertEqual(run.status, 0, run.transcript)
        guard run.status == 0 else { return }
        dirs[ranks] = dir
      }
      let one = try RunOutputs.tensors("/params", of: dirs[1]! + "/latest")
      let four = try RunOutputs.tensors("/params", of: dirs[4]! + "/latest")
      XCTAssertTrue(one.keys.contains("encoders.audio.gru.weight_hh_l1_reverse"), "\(fusion): \(one.keys.sorted())")
      XCTAssertEqual(Set(one.keys), Set(four.keys))
      var largest = 0.0
      for (name, expected) in one {
        let difference = maxRelativeDifference(four[name] ?? [], expected)
        largest = max(largest, difference)
        XCTAssertLessThan(difference, 1e-4, "\(fusion) /params/\(name): 1 vs 4 ranks")
      }
      print(
        "zoo equivalence: \(fusion) fusion, bidirectional GRU, dropout + modality dropout: max relative difference 1 vs 4 ranks \(largest)"
      )
    }
  }

  func testStoppedZooRunResumesBitForBit() throws {
    let data = try TestData.synth(samples: 300, to: path("data.h5"))
    func config(_ dir: String) throws -> String {
      var c = zooConfig(data: data, runDir: dir, fusion: "late")
      c["train.optimizer"] = "adam"
      c["train.lr"] = "0.01"
      c["train.epochs"] = "40"
      c["train.batch_size"] = "16"
      return try c.write(to: path(URL(fileURLWithPath: dir).lastPathComponent + ".yaml"))
    }
    let stoppedDir = path("stopped"), straightDir = path("straight")
    let stopped = try mmtrain(
      ranks: 2, ["train", "--config", try config(stoppedDir), "--progress", "lines"],
      signal: (SIGUSR1, "epoch 2/40"))
    XCTAssertEqual(stopped.status, 75, stopped.transcript)
    guard stopped.status == 75 else { return }
    let resumed = try mmtrain(ranks: 2, ["train", "--resume", stoppedDir, "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    let straight = try mmtrain(ranks: 2, ["train", "--config", try config(straightDir), "--progress", "lines"])
    XCTAssertEqual(straight.status, 0, straight.transcript)
    guard resumed.status == 0, straight.status == 0 else { return }
    try RunOutputs.assertBitwiseEqual(stoppedDir + "/latest", straightDir + "/latest", "after stop + resume")
  }

  /// The synth label is [a == b] with a carried by text and b by audio: one modality alone is at chance,
  /// so a fusion that works must beat the best single-modality model by a wide margin.
  func testEveryFusionBeatsTheBestSingleModality() throws {
    let data = try TestData.synth(samples: 600, to: path("data.h5"))
    func validationAccuracy(_ name: String, _ changes: [String: String]) throws -> Double {
      var c = RunConfig.small(data: data, runDir: path("run-\(name)"))
      c["train.optimizer"] = "adam"
      c["train.lr"] = "0.01"
      c["train.epochs"] = "12"
      c["train.batch_size"] = "32"
      c["model.hidden"] = "16"
      c["model.pooling"] = "mean"
      for (k, v) in changes { c[k] = v }
      let run = try mmtrain(ranks: 2, ["train", "--config", try c.write(to: path("\(name).yaml"))])
      XCTAssertEqual(run.status, 0, run.transcript)
      let metrics = try RunOutputs.metrics(runDir: path("run-\(name)"))
      return try XCTUnwrap(metrics.last?["val_accuracy"] as? Double, "\(name): no val_accuracy")
    }
    let single = try ["text", "audio"].map { try validationAccuracy("only-\($0)", ["data.modalities": "[\($0)]"]) }
    let best = single.max()!
    XCTAssertLessThan(best, 0.7, "one modality alone should be near chance: \(single)")
    for fusion in ["early", "late", "attention", "tensor", "gated"] {
      let accuracy = try validationAccuracy(fusion, ["model.fusion": fusion])
      print("fusion must fuse: \(fusion) val accuracy \(accuracy); text alone \(single[0]), audio alone \(single[1])")
      XCTAssertGreaterThan(
        accuracy, best + 0.2, "\(fusion) fusion: val accuracy \(accuracy), best single modality \(best)")
    }
  }
}
