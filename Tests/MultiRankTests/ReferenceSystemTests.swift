import Foundation
import MMData
import MMHDF5
import TestSupport
import XCTest

/// The model zoo's reference systems run as written (configs/examples), on `mmtrain synth --example` data, at
/// small sizes: per-step targets (A, B), per-layer widths (C), and the same result on 1 and 4 ranks with SGD.
final class ReferenceSystemTests: MultiRankTestCase {
  /// configs/examples/`name`.yaml reading `data` (the tests shrink it with --set).
  func example(_ name: String, data: String) throws -> String {
    var lines = try String(contentsOfFile: packageRoot().path + "/configs/examples/\(name).yaml", encoding: .utf8)
    lines = lines.replacingOccurrences(of: "runs/examples/\(name).h5", with: data)
    let config = path("\(name).yaml")
    try lines.write(toFile: config, atomically: true, encoding: .utf8)
    return config
  }

  func sets(_ changes: [String: String]) -> [String] {
    changes.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0)=\($1)"] }
  }

  /// 1 and 4 ranks with SGD train the same model: /params within `tolerance` (float32 sums re-associated over
  /// the ranks' shares of a few steps).
  func checkRanksAgree(_ name: String, data: String, _ changes: [String: String], tolerance: Double = 1e-6) throws
    -> String
  {
    let config = try example(name, data: data)
    var dirs: [Int: String] = [:]
    for ranks in [1, 4] {
      let dir = path("run-\(name)-\(ranks)")
      let run = try mmtrain(
        ranks: ranks, ["train", "--config", config, "--set", "checkpoint.dir=\(dir)"] + sets(changes), timeout: 300)
      XCTAssertEqual(run.status, 0, run.transcript)
      dirs[ranks] = dir
    }
    let one = try RunOutputs.tensors("/params", of: dirs[1]! + "/latest")
    let four = try RunOutputs.tensors("/params", of: dirs[4]! + "/latest")
    XCTAssertEqual(Set(one.keys), Set(four.keys))
    for (tensor, expected) in one {
      XCTAssertLessThan(
        maxRelativeDifference(four[tensor] ?? [], expected), tolerance, "\(name): /params/\(tensor), 1 vs 4 ranks")
    }
    return dirs[1]!
  }

  /// System A: LSTM → per-step MLP head [32, 16] → sigmoid, one binary label per step.
  func testSystemAPerStepTargets() throws {
    let data = path("a.h5")
    try SynthExample.a.write(samples: 160, seed: 5, to: data)
    let dir = try checkRanksAgree(
      "a", data: data,
      [
        "model.hidden": "12", "model.head_hidden": "[8, 4]", "train.optimizer": "sgd", "train.lr": "0.1",
        "train.epochs": "2", "train.batch_size": "16",
      ])
    let metrics = try RunOutputs.metrics(runDir: dir)
    XCTAssertEqual(metrics.count, 2)
    XCTAssertNotNil(metrics.last?["val_accuracy"] as? Double)

    // predict: one csv line per valid (sample, step), and [N, T, 2] probabilities in .h5.
    let csv = path("a.csv"), h5 = path("a-pred.h5")
    for out in [csv, h5] {
      let run = try mmtrain(ranks: 2, ["predict", "--checkpoint", dir, "--data", data, "--out", out])
      XCTAssertEqual(run.status, 0, run.transcript)
    }
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.first, "index,step,group,fold,label,prediction,prob_0,prob_1")
    XCTAssertEqual(lines.count - 1, 160 * 50, "every step of every sample (example a: all 50 steps valid)")
    XCTAssertEqual(lines[1].split(separator: ",", omittingEmptySubsequences: false).prefix(2), ["0", "0"])
    let file = try HDF5File(path: h5, mode: .readOnly)
    defer { file.close() }
    XCTAssertEqual(try file.datasetInfo("/probabilities").shape, [160, 50, 2])
    XCTAssertEqual(try file.datasetInfo("/prediction").shape, [160, 50])
  }

  /// Balanced class weights of per-step targets count the valid steps' labels of every rank's rows: 1 and 4
  /// ranks train the same model (they used to count a sample's flattened labels by row index, which depended on
  /// the world size).
  func testSystemABalancedClassWeightsCountValidSteps() throws {
    let data = path("a.h5")
    try SynthExample.a.write(samples: 96, seed: 6, to: data)
    _ = try checkRanksAgree(
      "a", data: data,
      [
        "model.hidden": "8", "model.head_hidden": "[4]", "train.optimizer": "sgd", "train.lr": "0.1",
        "train.epochs": "1", "train.batch_size": "16", "task.class_weights": "balanced",
      ])
  }

  /// System C: LSTM [wide, narrow] (whole sequence into the next layer) → last step → sigmoid; padded text.
  func testSystemCPerLayerWidths() throws {
    let data = path("c.h5")
    try SynthExample.c.write(samples: 48, seed: 5, to: data)
    let dir = try checkRanksAgree(
      "c", data: data,
      [
        "model.hidden": "[8, 4]", "train.optimizer": "sgd", "train.lr": "0.1", "train.epochs": "1",
        "train.batch_size": "16",
      ])
    let params = try RunOutputs.tensors("/params", of: dir + "/latest")
    XCTAssertEqual(params["fusion.lstm.0.weight_ih_l0"]?.count, 4 * 8 * 64)
    XCTAssertEqual(params["fusion.lstm.1.weight_ih_l0"]?.count, 4 * 4 * 8)
  }

  /// Per-step labels whose T is not the modalities' T, a step target with interpolation or late fusion, and
  /// model.layers against a hidden list: one line each, nothing written.
  func testBadInput() throws {
    let data = path("a.h5")
    try SynthExample.a.write(samples: 40, seed: 5, to: data)
    let wrongT = try TestData.write(path("wrong-t.h5")) { f in
      try f.writeFloats("/modalities/x", [Float](repeating: 0.5, count: 40 * 50 * 8), shape: [40, 50, 8])
      try f.writeInt64s("/labels", [Int64](repeating: 1, count: 40 * 49), shape: [40, 49])
    }
    try expectFailure(
      ranks: 2, ["--config", try example("a", data: wrongT), "--set", "checkpoint.dir=\(path("r1"))"],
      saying: "/labels has 49 steps per sample, but /modalities/x has 50")
    for (set, needle) in [
      ("data.align=interpolate", "data.align is interpolate, but task.target: step never resamples its labels"),
      ("model.fusion=late", "model.fusion is late, but task.target: step needs one time axis"),
    ] {
      try expectFailure(
        ranks: 1,
        ["--config", try example("a", data: data), "--set", set, "--set", "checkpoint.dir=\(path("r2"))"],
        saying: needle, status: 64)
    }
    try expectFailure(
      ranks: 1, ["--config", try example("c", data: data), "--set", "model.layers=3"],
      saying: "model.layers is 3, but model.hidden lists 2 widths", status: 64)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("r1")))
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("r2")))
  }
}

/// Static vectors [N, D] beside sequences: they train with their MLP encoder, are named by `mmtrain inspect`, and
/// their errors are one line each.
final class StaticVectorTests: MultiRankTestCase {
  func data() throws -> String {
    try TestData.write(path("static.h5")) { f in
      var rng = SystemRandomNumberGenerator()
      let n = 48
      try f.writeFloats(
        "/modalities/text", (0..<(n * 6 * 4)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [n, 6, 4])
      try f.writeFloats(
        "/modalities/face", (0..<(n * 5)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [n, 5])
      try f.writeInt64s("/labels", (0..<n).map { Int64($0 % 2) }, shape: [n])
      try f.writeInt64s("/lengths", (0..<n).map { Int64(3 + $0 % 4) }, shape: [n])  // shared: never the vector's
    }
  }

  func testStaticVectorTrainsWithItsMLP() throws {
    let data = try data()
    let config = try config(
      data: data, ["model.fusion": "late", "model.encoders": "{face: {kind: mlp, widths: [3]}}", "task.kind": "binary"])
    let run = try mmtrain(ranks: 2, ["train", "--config", config])
    XCTAssertEqual(run.status, 0, run.transcript)
    XCTAssertTrue(run.stdout.contains("face 5 -> mlp 3"), run.transcript)
    let params = try RunOutputs.tensors("/params", of: path("run/latest"))
    XCTAssertEqual(params["encoders.face.mlp.0.weight"]?.count, 3 * 5)
    let inspect = try mmtrain(ranks: 0, ["inspect", data])
    XCTAssertTrue(inspect.stdout.contains("face       [48, 5] float32"), inspect.transcript)
    XCTAssertTrue(inspect.stdout.contains("static vector"), inspect.transcript)
  }

  func testStaticVectorErrors() throws {
    let data = try data()
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["model.fusion": "early"])],
      saying: "model.fusion is early, but 'face' is a static vector [N, D]", status: 64)
    try expectFailure(
      ranks: 1,
      ["--config", try config(data: data, ["model.fusion": "late", "model.encoders": "{text: {kind: mlp}}"])],
      saying: "model.encoders.text: 'text' is a sequence", status: 64)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
  }
}

/// Images [N, C, H, W] beside sequences: they train through their conv encoder, z-scored per channel, and
/// their errors are one line each.
final class ImageModalityTests: MultiRankTestCase {
  func data() throws -> String {
    try TestData.write(path("images.h5")) { f in
      var rng = SystemRandomNumberGenerator()
      let n = 40
      try f.writeFloats(
        "/modalities/text", (0..<(n * 6 * 4)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [n, 6, 4])
      // channel 0 around 5, channel 1 around -3: per-channel statistics must find them
      let pixels = (0..<(n * 2 * 5 * 5)).map { i in Float.random(in: -1...1, using: &rng) + ((i / 25) % 2 == 0 ? 5 : -3)
      }
      try f.writeFloats("/modalities/image", pixels, shape: [n, 2, 5, 5])
      try f.writeInt64s("/labels", (0..<n).map { Int64($0 % 2) }, shape: [n])
    }
  }

  func testImageTrainsThroughItsConvolutions() throws {
    let data = try data()
    let config = try config(
      data: data,
      [
        "model.fusion": "gated", "model.encoders": "{image: {kind: conv, channels: [3], kernel: 3, pool: 2}}",
        "task.kind": "binary",
      ])
    let run = try mmtrain(ranks: 2, ["train", "--config", config])
    XCTAssertEqual(run.status, 0, run.transcript)
    XCTAssertTrue(run.stdout.contains("image 50 -> conv 3 (12)"), run.transcript)
    let params = try RunOutputs.tensors("/params", of: path("run/latest"))
    XCTAssertEqual(params["encoders.image.conv.0.weight"]?.count, 3 * 2 * 3 * 3)
    let file = try HDF5File(path: path("run/latest"), mode: .readOnly)
    defer { file.close() }
    let mu = try file.readFloats("/normalization/mean")
    XCTAssertEqual(Set(mu[0..<25]).count, 1, "channel 0 shares one mean")
    XCTAssertEqual(Double(mu[0]), 5, accuracy: 0.2)
    XCTAssertEqual(Double(mu[25]), -3, accuracy: 0.2)
  }

  func testImageErrors() throws {
    let data = try data()
    try expectFailure(
      ranks: 2, ["--config", try config(data: data, ["model.fusion": "late"])],
      saying: "'image' is an image [N, 2, 5, 5]: it needs a conv encoder", status: 64)
    try expectFailure(
      ranks: 1,
      [
        "--config",
        try config(
          data: data, ["model.fusion": "late", "model.encoders": "{image: {kind: conv, channels: [3, 3, 3], pool: 2}}"]),
      ],
      saying: "model.encoders.image: convolution 3 turns a 1 x 1 input into 0 x 0 (kernel 3, pool 2)", status: 64)
    try expectFailure(
      ranks: 1,
      ["--config", try config(data: data, ["model.encoders": "{image: {kind: conv, channels: [3]}}"])],
      saying: "model.fusion is early, but 'image' is an image [N, C, H, W]", status: 64)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
  }
}

/// Image sequences [N, T, C, H, W] (video frames): every frame through the conv, then the recurrent encoder.
final class ImageSequenceTests: MultiRankTestCase {
  func testFramesTrainThroughConvolutionsIntoTheLSTM() throws {
    let data = try TestData.write(path("video.h5")) { f in
      var rng = SystemRandomNumberGenerator()
      let n = 32
      try f.writeFloats(
        "/modalities/video", (0..<(n * 5 * 1 * 6 * 6)).map { _ in Float.random(in: -1...1, using: &rng) },
        shape: [n, 5, 1, 6, 6])
      try f.writeFloats("/modalities/age", (0..<n).map { Float($0) }, shape: [n, 1])
      try f.writeInt64s("/lengths/video", (0..<n).map { Int64(2 + $0 % 4) }, shape: [n])
      try f.writeInt64s("/labels", (0..<n).map { Int64($0 % 2) }, shape: [n])
    }
    let inspect = try mmtrain(ranks: 0, ["inspect", data])
    XCTAssertTrue(inspect.stdout.contains("video      [32, 5, 1, 6, 6] float32"), inspect.transcript)
    try expectFailure(
      ranks: 1, ["--config", try config(data: data, ["model.fusion": "late", "data.steps": "5"])],
      saying: "'video' is an image sequence [N, T, 1, 6, 6]: it needs a conv encoder", status: 64)
    let config = try config(
      data: data,
      [
        "model.fusion": "late", "data.steps": "5", "data.align": "pad", "task.kind": "binary",
        "model.encoders": "{video: {kind: conv, channels: [2], kernel: 3, pool: 2}}",
      ])
    let run = try mmtrain(ranks: 2, ["train", "--config", config])
    XCTAssertEqual(run.status, 0, run.transcript)
    let params = try RunOutputs.tensors("/params", of: path("run/latest"))
    XCTAssertEqual(params["encoders.video.conv.0.weight"]?.count, 2 * 1 * 3 * 3)
    XCTAssertEqual(params["encoders.video.lstm.weight_ih_l0"]?.count, 4 * 8 * (2 * 3 * 3))
  }
}
