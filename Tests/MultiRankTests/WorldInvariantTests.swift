import Foundation
import MMData
import TestSupport
import XCTest

/// `dist.world_invariant: true`: training gives the same bits on 1, 2, 3, 4 and 8 ranks (8 oversubscribed), for
/// each kind of model, across a stop on one world size and a resume on another, and for cv's parallel folds.
/// Exact: every /params and /optimizer value is compared by its bit pattern (stricter than an md5 of the
/// datasets), and metrics.jsonl's losses and accuracies with ==. Without the key, the bits differ.
final class WorldInvariantTests: MultiRankTestCase {
  let worlds = [1, 2, 3, 4, 8]

  /// 50 samples: 40 training rows, batch 12 (chunks of 8, 4 and a last batch of 4), over shards that 3 and 8
  /// do not divide evenly; Adam at 3 epochs.
  func config(_ name: String, _ settings: [String: String] = [:]) throws -> (config: String, runDir: String) {
    let data = path("data.h5")
    if !FileManager.default.fileExists(atPath: data) { _ = try TestData.synth(samples: 50, to: data) }
    let runDir = path("run-\(name)")
    var c = RunConfig.small(data: data, runDir: runDir)
    c["train.epochs"] = "3"
    c["train.optimizer"] = "adam"
    c["train.lr"] = "0.01"
    c["dist.world_invariant"] = "true"
    for (key, value) in settings { c[key] = value }
    return (try c.write(to: path("\(name).yaml")), runDir)
  }

  /// Every dataset of /params and /optimizer in `checkpoint`, as bit patterns, by "group/name".
  func bits(_ checkpoint: String) throws -> [String: [UInt32]] {
    var all: [String: [UInt32]] = [:]
    for group in ["/params", "/optimizer"] {
      for (name, values) in try RunOutputs.tensors(group, of: checkpoint) {
        all[group + "/" + name] = values.map(\.bitPattern)
      }
    }
    return all
  }

  /// metrics.jsonl without its timing and world fields: what must be equal.
  func results(_ runDir: String) throws -> [[String: Double]] {
    let kept = [
      "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1", "val_mae", "lr", "grad_norm",
      "steps_repeated",
    ]
    return try RunOutputs.metrics(runDir: runDir).map { line in
      line.filter { kept.contains($0.key) }.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
  }

  /// Trains `settings` on every world size and compares each with the 1-rank run.
  func assertSameBitsOnEveryWorldSize(
    _ name: String, _ settings: [String: String], printed: String? = nil, environment: [String: String] = [:],
    file: StaticString = #filePath,
    line: UInt = #line
  )
    throws
  {
    var reference: (bits: [String: [UInt32]], results: [[String: Double]])?
    for world in worlds {
      let (config, runDir) = try self.config("\(name)-\(world)", settings)
      let run = try mmtrain(
        ranks: world, ["train", "--config", config], timeout: 120, environment: environment, file: file, line: line)
      XCTAssertEqual(run.status, 0, run.transcript, file: file, line: line)
      guard run.status == 0 else { return }
      if let expected = printed {
        XCTAssertTrue(run.stdout.contains(expected), "\(world) ranks: \(run.transcript)", file: file, line: line)
      }
      let now = (bits: try bits(runDir + "/latest"), results: try results(runDir))
      guard let reference else {
        XCTAssertFalse(now.bits.isEmpty, "no /params or /optimizer", file: file, line: line)
        reference = now
        continue
      }
      XCTAssertEqual(Set(now.bits.keys), Set(reference.bits.keys), file: file, line: line)
      for (dataset, expected) in reference.bits.sorted(by: { $0.key < $1.key }) {
        XCTAssertTrue(
          now.bits[dataset] == expected, "\(name): \(dataset) differs between 1 and \(world) ranks", file: file,
          line: line)
      }
      XCTAssertEqual(
        now.results, reference.results, "\(name): metrics.jsonl, 1 vs \(world) ranks", file: file, line: line)
    }
  }

  func testEarlyFusionLSTMWithAdam() throws {
    try assertSameBitsOnEveryWorldSize(
      "early", [:], printed: "world-invariant: chunks of 8 rows, exact fixed-point sums; bit-identical on any number")
  }

  /// Without headroom (MMTRAIN_EXACT_HEADROOM=0) every gradient that grows past the next power of two is summed
  /// in the spill sums, all-reduced over the ranks that had one and those that had none: the same bits still.
  func testSpilledGradientsOnEveryWorldSize() throws {
    try assertSameBitsOnEveryWorldSize(
      "spilled", ["train.lr": "0.02"], environment: ["MMTRAIN_EXACT_HEADROOM": "0"])
  }

  /// That knob set differently on two ranks would mix scales in the integer sums: refused, one line, the run
  /// directory removed (an MPMD launch gives rank 1 its own environment).
  func testAHeadroomThatDiffersBetweenRanksIsRefused() throws {
    let (config, runDir) = try self.config("knob")
    let binary = try XCTUnwrap(Harness.mmtrainBinary())
    let run = try mmtrain(
      ranks: 1,
      [
        "train", "--config", config, ":", "-n", "1", "-x", "MMTRAIN_EXACT_HEADROOM=3", binary, "train", "--config",
        config,
      ])
    XCTAssertNotEqual(run.status, 0, run.transcript)
    XCTAssertTrue(run.stderr.contains("MMTRAIN_EXACT_HEADROOM differs between ranks"), run.transcript)
    XCTAssertFalse(FileManager.default.fileExists(atPath: runDir), "the run directory it created is removed")
  }

  func testLateFusionBidirectionalGRUWithDropoutAndModalityDropout() throws {
    try assertSameBitsOnEveryWorldSize(
      "late",
      [
        "model.fusion": "late", "model.cell": "gru", "model.bidirectional": "true", "model.dropout": "0.2",
        "train.modality_dropout": "0.3",
      ])
  }

  func testTensorFusionWithNesterovCosineWarmUpClippingAndBalancedClassWeights() throws {
    try assertSameBitsOnEveryWorldSize(
      "tensor",
      [
        "model.fusion": "tensor", "train.optimizer": "sgd", "train.lr": "0.05", "train.momentum": "0.9",
        "train.nesterov": "true", "train.schedule": "cosine", "train.warmup_steps": "3", "train.clip_norm": "0.5",
        "task.class_weights": "balanced",
      ])
  }

  /// Early stopping ends these runs after the second epoch (lr 0.05 overshoots), on the best epoch's weights.
  func testAttentionFusionWithEarlyStopping() throws {
    try assertSameBitsOnEveryWorldSize(
      "attention",
      [
        "model.fusion": "attention", "train.epochs": "6", "train.lr": "0.05",
        "train.early_stopping": "{metric: val_loss, patience: 1}",
      ], printed: "early stopping: val_loss has not improved")
  }

  /// A trained token embedding (summed whole as one more bucket, not by its touched rows) beside a conv
  /// encoder: the zoo's system E, small, on 1, 2 and 3 ranks.
  func testTrainedEmbeddingAndConvEncoder() throws {
    let data = path("e.h5")
    try SynthExample.e.write(samples: 60, seed: 4, to: data)
    var reference: [String: [UInt32]]?
    for world in [1, 2, 3] {
      let (config, runDir) = try config(
        "e-\(world)",
        [
          "data.path": RunConfig.quoted(data), "data.steps": "{text: 40}", "data.align": "pad", "model.fusion": "late",
          "task.kind": "binary", "model.hidden": "{text: 8}", "model.encoders": "{image: {kind: conv, channels: [3]}}",
          "model.embed": "{text: {freeze: false}}", "train.epochs": "2",
        ])
      let run = try mmtrain(ranks: world, ["train", "--config", config], timeout: 120)
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      let now = try bits(runDir + "/latest")
      XCTAssertNotNil(now["/params/embed.text.weight"], "the embedding is trained and saved")
      if let reference {
        XCTAssertTrue(now == reference, "1 vs \(world) ranks: some /params or /optimizer bits differ")
      } else {
        reference = now
      }
    }
  }

  /// Per-step targets (the zoo's system A: a label at every valid step): the loss denominator is the global
  /// batch's valid steps, summed exactly per chunk; 1 and 3 ranks.
  func testPerStepTargets() throws {
    let data = path("a.h5")
    try SynthExample.a.write(samples: 60, seed: 4, to: data)
    var reference: [String: [UInt32]]?
    for world in [1, 3] {
      let (config, runDir) = try config(
        "a-\(world)",
        [
          "data.path": RunConfig.quoted(data), "data.steps": "50", "data.align": "pad", "task.target": "step",
          "model.head_hidden": "[6]", "train.epochs": "2",
        ])
      let run = try mmtrain(ranks: world, ["train", "--config", config], timeout: 120)
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      let now = try bits(runDir + "/latest")
      if let reference {
        XCTAssertTrue(now == reference, "1 vs \(world) ranks: some /params or /optimizer bits differ")
      } else {
        reference = now
      }
    }
  }

  /// The control: without the key, 1 and 4 ranks train the same model only up to re-associated float sums, and
  /// the comparison above sees it.
  func testWithoutItTheBitsDependOnTheWorldSize() throws {
    var checkpoints: [[String: [UInt32]]] = []
    for world in [1, 4] {
      let (config, runDir) = try config("off-\(world)", ["dist.world_invariant": "false"])
      let run = try mmtrain(ranks: world, ["train", "--config", config])
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      checkpoints.append(try bits(runDir + "/latest"))
    }
    XCTAssertEqual(Set(checkpoints[0].keys), Set(checkpoints[1].keys))
    XCTAssertNotEqual(checkpoints[0], checkpoints[1], "float sums in another order must change some last bit")
  }

  /// A run checkpointed mid-epoch on 4 ranks (step 6: the second epoch's second step) and resumed from there on 2
  /// ends with the bits of an uninterrupted 3-rank run; resuming it with the key off is refused (exit 64, one
  /// line naming the key).
  func testCheckpointedMidEpochOnFourResumedOnTwoEqualsThreeRanks() throws {
    let (stoppedConfig, stoppedDir) = try config("four", ["checkpoint.every_steps": "6", "checkpoint.keep": "9"])
    let four = try mmtrain(ranks: 4, ["train", "--config", stoppedConfig])
    XCTAssertEqual(four.status, 0, four.transcript)
    let (straightConfig, straightDir) = try config("three")
    let three = try mmtrain(ranks: 3, ["train", "--config", straightConfig])
    XCTAssertEqual(three.status, 0, three.transcript)
    guard four.status == 0, three.status == 0 else { return }
    // The mid-epoch checkpoint alone, in a run directory of its own.
    let resumedDir = path("run-resumed"), name = "checkpoint-e0001-s00002.h5"
    try FileManager.default.createDirectory(atPath: resumedDir, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: stoppedDir + "/" + name, toPath: resumedDir + "/" + name)
    let refused = try mmtrain(
      ranks: 2,
      [
        "train", "--resume", resumedDir + "/" + name, "--set", "checkpoint.dir=\(resumedDir)", "--set",
        "dist.world_invariant=false",
      ])
    XCTAssertEqual(refused.status, 64, refused.transcript)
    XCTAssertEqual(refused.errorLines.count, 1, refused.transcript)
    XCTAssertTrue(
      refused.stderr.contains("dist.world_invariant = false differs from the checkpoint's true"), refused.transcript)
    let two = try mmtrain(
      ranks: 2, ["train", "--resume", resumedDir + "/" + name, "--set", "checkpoint.dir=\(resumedDir)"])
    XCTAssertEqual(two.status, 0, two.transcript)
    guard two.status == 0 else { return }
    XCTAssertTrue(two.stdout.contains("epoch 1 + 2 steps"), "resumed mid-epoch: \(two.transcript)")
    let expected = try bits(straightDir + "/latest"), actual = try bits(resumedDir + "/latest")
    XCTAssertFalse(expected.isEmpty)
    for (dataset, values) in expected.sorted(by: { $0.key < $1.key }) {
      XCTAssertTrue(actual[dataset] == values, "\(dataset): 4 ranks + resume on 2 differs from 3 ranks")
    }
    XCTAssertEqual(try results(resumedDir).last, try results(straightDir).last, "the last epoch's metrics")
  }

  /// cv on 4 ranks with 1, 2 and 4 folds at a time: the same report.json but for its timings and run folder.
  func testCVReportIsTheSameForOneTwoAndFourParallelFolds() throws {
    var reports: [String] = []
    for parallel in [1, 2, 4] {
      let (config, runDir) = try config(
        "cv-\(parallel)", ["cv.folds": "4", "cv.parallel_folds": "\(parallel)", "train.epochs": "2"])
      let run = try mmtrain(ranks: 4, ["cv", "--config", config], timeout: 180)
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      let json = try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: runDir + "/report/report.json")))
      reports.append(canonical(json, runDir: runDir))
    }
    for (k, parallel) in [(1, 2), (2, 4)] {
      let a = Array(reports[0]), b = Array(reports[k])
      let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
      XCTAssertTrue(a == b, "parallel_folds \(parallel) vs 1 differ at: \(String(b.dropFirst(at).prefix(120)))")
    }
  }

  /// The report as sorted JSON text without what may differ: timings, the creation time, the world size (a fold
  /// group's ranks), the title (the config file's name), the run folder's name, and cv.parallel_folds.
  func canonical(_ value: Any, runDir: String) -> String {
    func strip(_ v: Any) -> Any {
      if let d = v as? [String: Any] {
        return d.filter { key, _ in
          !["timing", "seconds", "created", "world_size", "parallel_folds", "title"].contains(key)
        }
        .mapValues(strip)
      }
      if let a = v as? [Any] { return a.map(strip) }
      if let s = v as? String {
        return s.replacingOccurrences(of: runDir, with: "RUN_DIR").replacingOccurrences(
          of: URL(fileURLWithPath: runDir).lastPathComponent, with: "RUN_DIR"
        ).split(separator: "\n").filter { !$0.contains("parallel_folds:") }.joined(separator: "\n")
      }
      return v
    }
    let data = try? JSONSerialization.data(withJSONObject: strip(value), options: [.sortedKeys])
    return data.map { String(decoding: $0, as: UTF8.self) } ?? ""
  }
}
