import Foundation
import MMHDF5
import TestSupport
import XCTest

/// The training controls under mpirun: the same on every world size, resumable bit for bit, early stopping
/// that keeps the best epoch, and one clear line for each mistake.
final class TrainingControlsTests: MultiRankTestCase {
  /// SGD with Nesterov, cosine with warm-up, clipping and balanced class weights: every control is computed
  /// after the all-reduce (and the class-weight denominator is all-reduced), so 4 ranks train what 1 does.
  /// Tolerance as in EquivalenceTests: float32 sums in another order.
  func testFourRanksEqualOneWithNesterovCosineClippingAndBalancedWeights() throws {
    // 50 rows with labels skewed 3:1 make the balanced weights differ from 1 (synth's labels are near 50/50).
    let data = try TestData.synth(samples: 50, to: path("data.h5"))
    try TestData.edit(data) { f in
      try f.writeInt64s("/labels", (0..<50).map { Int64($0 % 4 == 0 ? 1 : 0) }, shape: [50])
    }
    var dirs: [Int: String] = [:]
    for ranks in [1, 4] {
      var config = RunConfig.small(data: data, runDir: path("run-n\(ranks)"))
      config["train.epochs"] = "3"
      config["train.nesterov"] = "true"
      config["train.schedule"] = "cosine"
      config["train.warmup_steps"] = "3"
      config["train.lr_min"] = "0.001"
      config["train.clip_norm"] = "0.05"
      config["task.class_weights"] = "balanced"
      let run = try mmtrain(
        ranks: ranks, ["train", "--config", try config.write(to: path("c\(ranks).yaml")), "--progress", "lines"])
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      XCTAssertTrue(
        run.stdout.contains("nesterov, cosine schedule, warm-up 3, clip 0.05, class weights"), run.transcript)
      dirs[ranks] = path("run-n\(ranks)")
    }
    let one = try RunOutputs.tensors("/params", of: dirs[1]! + "/latest")
    let four = try RunOutputs.tensors("/params", of: dirs[4]! + "/latest")
    XCTAssertFalse(one.isEmpty)
    for (name, expected) in one {
      XCTAssertLessThan(
        maxRelativeDifference(try XCTUnwrap(four[name]), expected), 1e-4, "/params/\(name): 1 vs 4 ranks")
    }
    let m1 = try RunOutputs.metrics(runDir: dirs[1]!), m4 = try RunOutputs.metrics(runDir: dirs[4]!)
    XCTAssertEqual(m1.count, 3); XCTAssertEqual(m4.count, 3)
    for (a, b) in zip(m1, m4) {
      let (lr1, lr4) = (try XCTUnwrap(a["lr"] as? Double), try XCTUnwrap(b["lr"] as? Double))
      XCTAssertEqual(lr1, lr4, "the schedule is a function of the step: the same on every world size")
      let (g1, g4) = (try XCTUnwrap(a["grad_norm"] as? Double), try XCTUnwrap(b["grad_norm"] as? Double))
      XCTAssertTrue(isClose(g1, g4, rtol: 1e-4, atol: 0), "grad_norm: 1 rank \(g1), 4 ranks \(g4)")
      XCTAssertGreaterThan(g1, 0.05, "the gradient is above clip_norm, so clipping is exercised")
      let (l1, l4) = (try XCTUnwrap(a["train_loss"] as? Double), try XCTUnwrap(b["train_loss"] as? Double))
      XCTAssertTrue(isClose(l1, l4, rtol: 1e-4, atol: 0), "train_loss: 1 rank \(l1), 4 ranks \(l4)")
    }
  }

  /// Stopped by SIGUSR1 mid-epoch and resumed, a run with AdamW, a cosine schedule and early stopping ends
  /// bitwise where an uninterrupted run ends: same weights, optimiser state, best checkpoint, and the same
  /// epoch at which early stopping fires (its wait counter crosses the stop).
  func testStopMidEpochAndResumeIsExactWithAdamWCosineAndEarlyStopping() throws {
    let data = try TestData.synth(samples: 400, to: path("data.h5"))
    func config(_ runDir: String) -> RunConfig {
      var c = RunConfig.small(data: data, runDir: runDir)
      c["train.optimizer"] = "adamw"
      c["train.lr"] = "0.01"
      c["train.weight_decay"] = "0.01"
      c["train.schedule"] = "cosine"
      c["train.warmup_steps"] = "10"
      c["train.epochs"] = "30"
      c["train.batch_size"] = "8"  // 40 steps per epoch: a signal almost always lands inside an epoch
      c["train.early_stopping"] = "{metric: val_loss, patience: 3, min_delta: 0.01}"
      return c
    }
    // A signal that lands on an epoch boundary makes a boundary checkpoint; retry once for a mid-epoch one.
    var stoppedDir = "", midEpoch = false
    for attempt in 1...2 where !midEpoch {
      stoppedDir = path("run-stopped-\(attempt)")
      let stopped = try mmtrain(
        ranks: 2,
        [
          "train", "--config", try config(stoppedDir).write(to: path("s\(attempt).yaml")),
          "--progress", "lines",
        ], signal: (SIGUSR1, "epoch 2/30"))
      XCTAssertEqual(stopped.status, 75, stopped.transcript)
      guard stopped.status == 75 else { return }
      midEpoch = try RunDirectory(stoppedDir).latestName.contains("-s")
    }
    XCTAssertTrue(midEpoch, "two signals both landed on an epoch boundary")
    let resumed = try mmtrain(ranks: 2, ["train", "--resume", stoppedDir, "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    let straightDir = path("run-straight")
    let straight = try mmtrain(
      ranks: 2, ["train", "--config", try config(straightDir).write(to: path("t.yaml")), "--progress", "lines"])
    XCTAssertEqual(straight.status, 0, straight.transcript)
    guard resumed.status == 0, straight.status == 0 else { return }

    XCTAssertEqual(
      try RunOutputs.metrics(runDir: stoppedDir).count, try RunOutputs.metrics(runDir: straightDir).count,
      "early stopping fires at the same epoch")
    XCTAssertEqual(try RunDirectory(stoppedDir).latestName, "checkpoint-best.h5")
    for (file, group) in [("latest", "/params"), ("latest", "/optimizer"), ("checkpoint-best.h5", "/params")] {
      let expected = try RunOutputs.tensors(group, of: straightDir + "/" + file)
      let actual = try RunOutputs.tensors(group, of: stoppedDir + "/" + file)
      XCTAssertFalse(expected.isEmpty)
      for (name, values) in expected {
        XCTAssertTrue(
          actual[name] == values, "\(file) \(group)/\(name) differs after stop + resume (must be bitwise equal)")
      }
    }
  }

  /// Random labels: the training loss falls while the validation loss rises, so early stopping fires long
  /// before train.epochs and the run ends on the best epoch's weights.
  func testEarlyStoppingOnOverfittingDataKeepsTheBestEpoch() throws {
    var rng = SplitMix64(seed: 11)
    let n = 120, T = TestData.steps, D = 6
    let data = try TestData.write(path("noise.h5")) { f in
      try f.writeFloats(
        "/modalities/text", (0..<(n * T * D)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [n, T, D])
      try f.writeInt64s("/labels", (0..<n).map { _ in Int64.random(in: 0...1, using: &rng) }, shape: [n])
    }
    var config = RunConfig.small(data: data, runDir: path("run"))
    config["model.hidden"] = "24"
    config["train.optimizer"] = "adam"
    config["train.lr"] = "0.03"
    config["train.epochs"] = "60"
    config["train.early_stopping"] = "{metric: val_loss, patience: 3}"
    config["checkpoint.keep"] = "1"
    let run = try mmtrain(ranks: 2, ["train", "--config", try config.write(to: path("c.yaml")), "--progress", "lines"])
    XCTAssertEqual(run.status, 0, run.transcript)
    guard run.status == 0 else { return }

    let metrics = try RunOutputs.metrics(runDir: path("run"))
    XCTAssertLessThan(metrics.count, 60, "stopped before train.epochs\n\(run.transcript)")
    let losses = try metrics.map { try XCTUnwrap($0["val_loss"] as? Double) }
    let bestIndex = losses.indices.min { losses[$0] < losses[$1] }!
    XCTAssertEqual(metrics.count, bestIndex + 1 + 3, "stops after patience epochs without improvement")
    XCTAssertTrue(run.stdout.contains("early stopping: val_loss has not improved"), run.transcript)
    XCTAssertTrue(run.stdout.contains("best epoch \(bestIndex + 1) (val_loss"), run.transcript)

    let best = try HDF5File(path: path("run/checkpoint-best.h5"), mode: .readOnly)
    defer { best.close() }
    XCTAssertEqual(
      try best.intAttribute("epoch", on: "/"), Int64(bestIndex + 1), "checkpoint-best.h5 holds the best epoch")
    // metrics.jsonl holds the value as JSON text (Foundation prints 16 significant digits): equal to that precision.
    let stored = try best.doubleAttribute("early_stopping_best", on: "/")
    XCTAssertTrue(
      isClose(stored, losses[bestIndex], rtol: 1e-14, atol: 0),
      "its metric equals the best line of metrics.jsonl: \(stored) vs \(losses[bestIndex])")
    XCTAssertEqual(try RunDirectory(path("run")).latestName, "checkpoint-best.h5")
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: path("run/checkpoint-e\(String(format: "%04d", metrics.count)).h5")),
      "the rolling checkpoint of the last epoch is there too (keep = 1 never deletes checkpoint-best.h5)")
  }

  // MARK: - Mistakes, one line each

  func testUnknownOptimizerAndScheduleSuggestTheClosest() throws {
    let data = try dataFile()
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["train.optimizer": "adamv"])],
      saying: "train.optimizer must be one of sgd, adam, adamw, rmsprop; got 'adamv' (did you mean 'adamw'?)",
      status: 64)
    try expectFailure(
      ranks: 2, ["--config", try config(data: data), "--set", "train.schedule=cosin"],
      saying: "got 'cosin' (did you mean 'cosine'?)", status: 64)
  }

  func testClassWeightsOfTheWrongLengthOrNegative() throws {
    let data = try dataFile()
    // The labels give 2 classes (task.classes is inferred): found once the ranks have read them.
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["task.class_weights": "[1, 2, 3]"])],
      saying: "task.class_weights has 3 weights, but the labels of \(data) give 2 classes; give one weight per class",
      status: 1)
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["task.class_weights": "[1, -2]"])],
      saying: "task.class_weights has a negative weight -2 for class 1", status: 64)
  }

  func testEarlyStoppingWithoutValidationRowsOrWithAMetricTheTaskLacks() throws {
    let data = try dataFile()
    try expectFailure(
      ranks: 2,
      [
        "--config",
        try config(
          data: data,
          [
            "data.validation_fraction": "0",
            "train.early_stopping": "{patience: 2}",
          ]),
      ],
      saying: "train.early_stopping needs validation rows, but data.validation_fraction is 0", status: 64)
    try expectFailure(
      ranks: 2,
      [
        "--config",
        try config(
          data: data,
          [
            "task.kind": "regression",
            "train.early_stopping": "{metric: val_accuracy}",
          ]),
      ],
      saying: "train.early_stopping watches val_accuracy, which a regression task does not have", status: 64)
  }

  func testWarmupAsLongAsTheRun() throws {
    // 40 rows, 20% validation: 32 training rows in batches of 12 -> 3 steps per epoch, 1 epoch.
    try expectFailure(
      ranks: 2, ["--config", try config(data: try dataFile(), ["train.warmup_steps": "3"])],
      saying: "train.warmup_steps = 3 is not below the run's total steps 3", status: 1)
  }
}

/// The run directory as the tests read it.
struct RunDirectory {
  let path: String
  init(_ path: String) { self.path = path }
  /// The file `latest` points to.
  var latestName: String { get throws { try FileManager.default.destinationOfSymbolicLink(atPath: path + "/latest") } }
}

/// A seeded generator for test data (SplitMix64), so the noise set is the same on every run.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
