import Foundation
import MMHDF5
import TestSupport
import XCTest

/// Everything a user can get wrong, run on several ranks: each must stop every rank with a non-zero exit,
/// one clear error line (not one per rank), no raw HDF5 error stack, and quickly (no rank left waiting).
final class ErrorTests: MultiRankTestCase {
  /// A hand-made file: text [n, T, 8] float (unless `text` writes it), labels 0/1 of `labels` rows.
  func handMadeFile(rows n: Int = 40, labels: Int? = nil, text: ((HDF5File) throws -> Void)? = nil) throws -> String {
    try TestData.write(path("hand.h5")) { f in
      let T = TestData.steps
      if let text {
        try text(f)
      } else {
        try f.writeFloats("/modalities/text", (0..<(n * T * 8)).map { Float($0 % 13) / 13 }, shape: [n, T, 8])
      }
      let rows = labels ?? n
      try f.writeInt64s("/labels", (0..<rows).map { Int64($0 % 2) }, shape: [rows])
    }
  }

  // MARK: - The data file

  func testMissingDataFileIsNamed() throws {
    let missing = path("no-such-data.h5")
    try expectFailure(ranks: 4, ["--config", try config(data: missing)], saying: "\(missing): no such file")
  }

  func testFileWithoutLabels() throws {
    let data = try TestData.write(path("nolabels.h5")) { f in
      try f.writeFloats(
        "/modalities/text", [Float](repeating: 0.5, count: 40 * TestData.steps * 8), shape: [40, TestData.steps, 8])
    }
    let run = try expectFailure(ranks: 3, ["--config", try config(data: data)], saying: "'/labels' not found")
    XCTAssertTrue(errorLine(run).contains(data), "names the file: \(errorLine(run))")
  }

  func testRowCountMismatch() throws {
    let data = try handMadeFile(rows: 40, labels: 41)
    let run = try expectFailure(ranks: 4, ["--config", try config(data: data)], saying: "rows")
    XCTAssertTrue(errorLine(run).contains("41") && errorLine(run).contains("40"), errorLine(run))
    XCTAssertTrue(errorLine(run).contains("/labels") && errorLine(run).contains("/modalities/text"), errorLine(run))
  }

  /// [N, D] is a static vector: early fusion (one time axis) cannot take it; rank 1 is no modality at all.
  func testTwoDimensionalFeatures() throws {
    let data = try handMadeFile { f in
      try f.writeFloats(
        "/modalities/text", [Float](repeating: 0.5, count: 40 * TestData.steps), shape: [40, TestData.steps])
    }
    try expectFailure(
      ranks: 3, ["--config", try config(data: data)],
      saying: "model.fusion is early, but 'text' is a static vector [N, D]",
      status: 64)
    let flat = try handMadeFile { f in
      try f.writeFloats("/modalities/text", [Float](repeating: 0.5, count: 40), shape: [40])
    }
    let run = try expectFailure(ranks: 3, ["--config", try config(data: flat)], saying: "has rank 1")
    XCTAssertTrue(errorLine(run).contains("/modalities/text"), errorLine(run))
  }

  func testIntegerFeatures() throws {
    let data = try handMadeFile { f in
      try f.writeInt64s(
        "/modalities/text", [Int64](repeating: 1, count: 40 * TestData.steps * 8), shape: [40, TestData.steps, 8])
    }
    let run = try expectFailure(
      ranks: 4, ["--config", try config(data: data)],
      saying: "is an integer dataset of rank 3 [40, \(TestData.steps), 8]")
    XCTAssertTrue(errorLine(run).contains("/modalities/text"), errorLine(run))
  }

  /// Rows 30..<40 belong to rank 3 of 4: the rank that sees the bad label reports it, once.
  func testLabelOutOfRangeOnRankThree() throws {
    let data = try dataFile { f in
      var labels = try f.readInt64s("/labels")
      labels[35] = 7
      try f.writeInt64s("/labels", labels, shape: [labels.count])
    }
    let run = try expectFailure(
      ranks: 4, ["--config", try config(data: data, ["task.classes": "2"])], saying: "/labels[35] = 7")
    XCTAssertTrue(errorLine(run).contains("rank 3:"), "reported by the owning rank: \(errorLine(run))")
  }

  /// Rows 20..<30 belong to rank 2 of 4. With data.missing: zero the same file trains.
  func testNaNFeaturesOnRankTwoThenImputed() throws {
    let T = TestData.steps, D = 8
    let data = try dataFile { f in
      var text = try f.readFloats("/modalities/text")
      text[(25 * T + 0) * D + 3] = .nan  // sample 25, step 0 (always within its length), feature 3
      try f.writeFloats("/modalities/text", text, shape: [40, T, D])
    }
    let cfg = try config(data: data)
    let run = try expectFailure(ranks: 4, ["--config", cfg], saying: "data.missing")
    let message = errorLine(run)
    XCTAssertTrue(message.contains("rank 2:"), "reported by the owning rank: \(message)")
    XCTAssertTrue(message.lowercased().contains("nan"), message)
    XCTAssertTrue(message.contains("/modalities/text") && message.contains("sample 25"), message)

    let imputed = try mmtrain(ranks: 4, ["train", "--config", cfg, "--set", "data.missing=zero"])
    XCTAssertEqual(imputed.status, 0, imputed.transcript)
    XCTAssertEqual(imputed.stdoutLines(startingWith: "epoch ").count, 1, imputed.transcript)
  }

  func testModalityTheFileLacksListsTheAvailableOnes() throws {
    let data = try dataFile()
    let run = try expectFailure(
      ranks: 3, ["--config", try config(data: data), "--set", "data.modalities=[text,audo]"],
      saying: "'audo'")
    XCTAssertTrue(
      errorLine(run).contains("audio, text, vision"), "lists the modalities the file has: \(errorLine(run))")
  }

  // MARK: - The config and the run

  func testArgumentErrorIsPrintedOnceUnderMPI() throws {
    let run = try mmtrain(ranks: 4, ["train", "--resume", "a", "--init", "b"], timeout: 60)
    XCTAssertEqual(run.status, 64, run.transcript)
    XCTAssertEqual(occurrences(of: "--resume and --init exclude each other", in: run.stderr), 1, run.transcript)
  }

  func testConfigGivenWithoutItsOptionGetsTheHint() throws {
    let config = try config(data: try dataFile())
    try expectFailure(
      ranks: 2, [config], saying: "the config is given with --config: mmtrain train --config \(config)", status: 64)
  }

  func testDataFileGivenAsConfigIsNamed() throws {
    let data = try dataFile()
    try expectFailure(ranks: 2, ["--config", data], saying: "\(data): is an HDF5 file, not a YAML config", status: 64)
  }

  func testVersion() throws {
    let run = try mmtrain(ranks: 1, ["--version"], timeout: 60)
    XCTAssertEqual(run.status, 0, run.transcript)
    XCTAssertEqual(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0.2.0", run.transcript)
  }

  func testConfigTypoSuggestsTheKey() throws {
    let data = try dataFile()
    let typo = try config(data: data, ["train.learning_rate": "0.1"], name: "typo.yaml")
    let run = try expectFailure(ranks: 4, ["--config", typo], saying: "did you mean 'train.lr'", status: 64)
    XCTAssertTrue(errorLine(run).contains("train.learning_rate") && errorLine(run).contains(typo), errorLine(run))

    let override = try expectFailure(
      ranks: 4, ["--config", try config(data: data), "--set", "train.epoch=3"],
      saying: "did you mean 'train.epochs'", status: 64)
    XCTAssertTrue(errorLine(override).contains("--set"), errorLine(override))
  }

  func testBatchSmallerThanTheWorld() throws {
    let data = try dataFile()
    let run = try expectFailure(
      ranks: 4, ["--config", try config(data: data, ["train.batch_size": "2"])],
      saying: "smaller than the world size", status: 64)
    XCTAssertTrue(errorLine(run).contains("train.batch_size"), errorLine(run))
  }

  func testUnwritableRunDirectory() throws {
    let data = try dataFile()
    XCTAssertTrue(FileManager.default.createFile(atPath: path("afile"), contents: Data("not a folder".utf8)))
    let runDir = path("afile/run")
    let run = try expectFailure(
      ranks: 3, ["--config", try config(data: data, ["checkpoint.dir": RunConfig.quoted(runDir)])],
      saying: "checkpoint.dir")
    XCTAssertTrue(errorLine(run).contains(runDir), "names the directory: \(errorLine(run))")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("run")), "no run directory elsewhere")
  }
}
