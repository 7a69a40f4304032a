import Foundation
import MMData
import MMHDF5
import TestSupport
import XCTest

/// Token ids [N, T] through embeddings (`model.embed`): reference system E on 1 and 4 ranks, its resume after a
/// signal, pretrained vectors that stay frozen, and one line for each kind of bad token input.
final class TokenModalityTests: MultiRankTestCase {
  /// configs/examples/e.yaml on `data`, shrunk for a debug build.
  func systemE(data: String, runDir: String, _ changes: [String: String]) throws -> [String] {
    let text = try String(contentsOfFile: packageRoot().path + "/configs/examples/e.yaml", encoding: .utf8)
      .replacingOccurrences(of: "runs/examples/e.h5", with: data)
    let config = path("e.yaml")
    try text.write(toFile: config, atomically: true, encoding: .utf8)
    let small = [
      "model.hidden": "{text: 6}", "model.encoders": "{image: {kind: conv, channels: [3, 4]}}",
      "checkpoint.dir": runDir,
    ].merging(changes) { $1 }
    return ["train", "--config", config] + small.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0)=\($1)"] }
  }

  /// A trained embedding's gradient moves as the rows each rank touched (GradientExchange.sumRows): 1 and 4
  /// ranks with SGD train the same model.
  func testSystemEOnOneAndFourRanksWithATrainedEmbedding() throws {
    let data = path("e.h5")
    try SynthExample.e.write(samples: 64, seed: 5, to: data)
    var params: [Int: [String: [Float]]] = [:]
    for ranks in [1, 4] {
      let dir = path("run-\(ranks)")
      let run = try mmtrain(
        ranks: ranks,
        try systemE(
          data: data, runDir: dir,
          [
            "model.embed": "{text: {freeze: false}}", "train.optimizer": "sgd", "train.lr": "0.1",
            "train.epochs": "2", "train.batch_size": "16",
          ]), timeout: 300)
      XCTAssertEqual(run.status, 0, run.transcript)
      guard run.status == 0 else { return }
      XCTAssertTrue(run.stdout.contains("text ids -> embed 1000 x 100, 6"), run.transcript)
      params[ranks] = try RunOutputs.tensors("/params", of: dir + "/latest")
    }
    let one = try XCTUnwrap(params[1]), four = try XCTUnwrap(params[4])
    XCTAssertEqual(Set(one.keys), Set(four.keys))
    for (tensor, expected) in one {
      XCTAssertLessThan(maxRelativeDifference(four[tensor] ?? [], expected), 1e-6, "/params/\(tensor), 1 vs 4 ranks")
    }
    // It trained: the rows of words the texts use moved away from the pretrained vectors.
    let file = try HDF5File(path: data, mode: .readOnly)
    defer { file.close() }
    let table = try file.readFloats("/embeddings/text")
    XCTAssertNotEqual(one["embed.text.weight"], table)
  }

  /// Pretrained vectors start the table and stay as the file has them (frozen by default); the optimiser keeps no
  /// state for them. The parameter line says how many are frozen.
  func testPretrainedVectorsStayFrozen() throws {
    let data = path("e.h5")
    try SynthExample.e.write(samples: 40, seed: 6, to: data)
    let dir = path("run")
    let run = try mmtrain(ranks: 2, try systemE(data: data, runDir: dir, ["train.epochs": "1"]))
    XCTAssertEqual(run.status, 0, run.transcript)
    XCTAssertTrue(run.stdout.contains("(100000 frozen)"), run.transcript)
    let params = try RunOutputs.tensors("/params", of: dir + "/latest")
    let file = try HDF5File(path: data, mode: .readOnly)
    defer { file.close() }
    XCTAssertEqual(params["embed.text.weight"], try file.readFloats("/embeddings/text"), "bitwise the file's vectors")
    let trainable = params.filter { $0.key != "embed.text.weight" }.values.reduce(0) { $0 + $1.count }
    for (name, state) in try RunOutputs.tensors("/optimizer", of: dir + "/latest") where state.count > 1 {
      XCTAssertEqual(state.count, trainable, "/optimizer/\(name) covers the trained parameters only")
    }
  }

  /// System E stopped by SIGUSR1 and resumed (a trained embedding, Adam) ends bitwise where a straight run ends.
  func testSystemEResumeAfterASignalIsExact() throws {
    let data = path("e.h5")
    try SynthExample.e.write(samples: 96, seed: 7, to: data)
    let changes = ["model.embed": "{text: {freeze: false}}", "train.batch_size": "8"]
    let stoppedDir = path("run-stopped"), straightDir = path("run-straight")
    let stopped = try mmtrain(
      ranks: 2,
      try systemE(data: data, runDir: stoppedDir, changes.merging(["train.epochs": "1000"]) { $1 })
        + ["--progress", "lines"], signal: (SIGUSR1, "epoch 2/"))
    XCTAssertEqual(stopped.status, 75, stopped.transcript)
    guard stopped.status == 75 else { return }
    let epochs = try RunOutputs.metrics(runDir: stoppedDir).count + 1
    let resumed = try mmtrain(
      ranks: 2, ["train", "--resume", stoppedDir, "--set", "train.epochs=\(epochs)", "--progress", "lines"])
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    let straight = try mmtrain(
      ranks: 2, try systemE(data: data, runDir: straightDir, changes.merging(["train.epochs": "\(epochs)"]) { $1 }))
    XCTAssertEqual(straight.status, 0, straight.transcript)
    try RunOutputs.assertBitwiseEqual(stoppedDir + "/latest", straightDir + "/latest", "after stop + resume")
  }

  /// A file of token ids: `ids` (n x 5) with lengths, beside a sequence; `table` [V, E] when given.
  func tokens(_ name: String, ids: (Int, Int) -> Int64, table: (rows: Int, width: Int)? = nil, rank3 ids3: Bool = false)
    throws -> String
  {
    try TestData.write(path(name)) { f in
      let n = 40
      try f.writeFloats("/modalities/audio", (0..<(n * 5 * 2)).map { Float($0 % 7) / 7 }, shape: [n, 5, 2])
      let values = (0..<(n * 5)).map { ids($0 / 5, $0 % 5) }
      try f.writeInt64s("/modalities/text", ids3 ? values + values : values, shape: ids3 ? [n, 5, 2] : [n, 5])
      try f.writeInt64s("/lengths/text", (0..<n).map { Int64(3 + $0 % 3) }, shape: [n])
      if let table {
        try f.writeFloats(
          "/embeddings/text", [Float](repeating: 0.5, count: table.rows * table.width),
          shape: [
            table.rows, table.width,
          ])
      }
      try f.writeInt64s("/labels", (0..<n).map { Int64($0 % 2) }, shape: [n])
    }
  }

  func testBadTokenInputIsOneLineAndNothingIsWritten() throws {
    let late = [
      "model.fusion": "late", "model.embed": "{text: {size: 4}}", "task.kind": "binary", "data.align": "pad",
    ]
    let good = try tokens("good.h5", ids: { i, t in Int64((i + t) % 9) })
    // the rank that owns the sample names itself: sample 30 is rank 1's of 2
    let negative = try tokens("negative.h5", ids: { i, t in i == 30 && t == 2 ? -3 : 1 })
    try expectFailure(
      ranks: 2, ["--config", try config(data: negative, late)],
      saying: "rank 1: \(negative): /modalities/text has token id -3 at sample 30, step 2", status: 1)
    // -1 past a sample's length is padding: never read
    let padded = try tokens("padded.h5", ids: { i, t in t >= 3 + i % 3 ? -1 : 2 })
    let run = try mmtrain(ranks: 1, ["train", "--config", try config(data: padded, late, name: "padded.yaml")])
    XCTAssertEqual(run.status, 0, run.transcript)
    try FileManager.default.removeItem(atPath: path("run"))

    let beyond = try tokens("beyond.h5", ids: { i, t in i == 3 && t == 1 ? 12 : 1 }, table: (10, 4))
    try expectFailure(
      ranks: 2, ["--config", try config(data: beyond, late)],
      saying: "/modalities/text has token id 12 at sample 3, step 1, outside the vocabulary of 10 ids (the rows of "
        + "/embeddings/text)", status: 1)
    let wide = try tokens("wide.h5", ids: { _, _ in 1 }, table: (10, 6))
    try expectFailure(
      ranks: 2, ["--config", try config(data: wide, late)],
      saying: "model.embed.text.size = 4 disagrees with /embeddings/text [10, 6]", status: 64)
    let rank3 = try tokens("rank3.h5", ids: { _, _ in 1 }, rank3: true)
    try expectFailure(
      ranks: 1, ["--config", try config(data: rank3, late)],
      saying: "'/modalities/text' is an integer dataset of rank 3 [40, 5, 2]; integers are token ids [N, T]")
    try expectFailure(
      ranks: 2,
      ["--config", try config(data: good, ["model.fusion": "late", "task.kind": "binary", "data.align": "pad"])],
      saying: "'text' holds token ids integer [N, T] in \(good): it needs an embedding, such as model.embed.text: "
        + "{size: 100}", status: 64)
    try expectFailure(
      ranks: 1, ["--config", try config(data: good, late.merging(["data.align": "interpolate"]) { $1 })],
      saying: "data.align is interpolate, but 'text' holds token ids", status: 64)
    try expectFailure(
      ranks: 1, ["--config", try config(data: good, late.merging(["model.fusion": "early"]) { $1 })],
      saying: "model.fusion is early, but 'text' is a token-id sequence", status: 64)
    try expectFailure(
      ranks: 1, ["--config", try config(data: good, late.merging(["model.embed": "{audio: {size: 4}}"]) { $1 })],
      saying: "model.embed.audio: 'audio' is not token ids", status: 64)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")))
  }
}
