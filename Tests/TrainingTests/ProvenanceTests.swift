import Foundation
import MMCheckpoint
import MMConfig
import MMData
import MMDistributed
import MMHDF5
import MMTraining
import TestSupport
import XCTest

/// A checkpoint knows what it was trained on, and a run that loads it must be fed exactly that input.
final class ProvenanceTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("provenance") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// The synthetic set plus `face`, a modality with vision's feature count (4), so swapping one for the
  /// other keeps the fused width.
  func dataWithFace() throws -> String {
    let data = try writeSynthetic(dir)
    let f = try HDF5File(path: data, mode: .readWrite)
    defer { f.close() }
    try f.writeFloats("/modalities/face", (0..<(120 * 8 * 4)).map { Float($0 % 11) / 11 }, shape: [120, 8, 4])
    return data
  }

  func trainedRun(_ data: String, _ overrides: [String] = []) throws -> Checkpoint.Contents {
    let run = dir.appendingPathComponent("a")
    _ = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=1"] + overrides))
    return try Checkpoint.read(path: try RunDirectory.resolveCheckpoint(run.path))
  }

  func loadError(
    _ data: String, _ overrides: [String], resume: Checkpoint.Contents? = nil, initFrom: Checkpoint.Contents? = nil
  ) -> String {
    var options = TrainingSession.Options()
    options.resume = resume; options.initFrom = initFrom; options.progress = .lines
    let run =
      resume != nil ? dir.appendingPathComponent("a") : dir.appendingPathComponent("b-\(UUID().uuidString.prefix(4))")
    do {
      _ = try TrainingSession(
        config: try makeConfig(data: data, run: run, ["train.epochs=2"] + overrides), comm: SingleProcessCommunicator(),
        options: options)
      XCTFail("loaded with \(overrides)")
      return ""
    } catch {
      return "\(error)"
    }
  }

  func testCheckpointRecordsInputFingerprintSplitAndVersion() throws {
    let data = try dataWithFace()
    let c = try trainedRun(data, ["data.modalities=[text, audio, vision]"])
    let p = try XCTUnwrap(c.provenance, "checkpoints carry their provenance")
    XCTAssertEqual(p.version, MMTrainVersion.string)
    XCTAssertEqual(p.input.modalities.map(\.name), ["text", "audio", "vision"])
    XCTAssertEqual(p.input.modalities.map(\.features), [12, 10, 4])
    XCTAssertEqual(p.input.modalities.map(\.column), [0, 12, 22])
    XCTAssertEqual(p.input.modalities.map(\.steps), [6, 6, 6])
    XCTAssertEqual([p.input.align, p.input.normalize, p.input.task], ["interpolate", "zscore", "multiclass"])
    XCTAssertEqual(p.input.classes, 2)
    XCTAssertEqual(p.data, try DataFingerprint.of(path: data))
    let mask = Split.validationMask(count: 120, fraction: 0.25, seed: 5)
    XCTAssertEqual(p.validationRows, mask.indices.filter { mask[$0] })
    XCTAssertEqual(p.validationSeed, 5)

    let split =
      try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("a/split.json")))
      as! [String: Any]
    XCTAssertEqual(split["validation_rows"] as? [Int], p.validationRows, "RUN_DIR/split.json holds the same rows")
    XCTAssertEqual(split["seed"] as? Int, 5)
  }

  func testInitRefusesAReorderedModalityList() throws {
    let data = try dataWithFace()
    let c = try trainedRun(data, ["data.modalities=[text, audio, vision]"])
    let error = loadError(data, ["data.modalities=[audio, text, vision]"], initFrom: c)
    XCTAssertTrue(
      error.contains("data.modalities is [audio, text, vision], the checkpoint was trained on [text, audio, vision]"),
      error)
    XCTAssertTrue(error.contains(c.path), "names the checkpoint: \(error)")
  }

  func testResumeRefusesASwappedModalityWithTheSameFeatureCount() throws {
    let data = try dataWithFace()
    let c = try trainedRun(data, ["data.modalities=[text, audio, vision]"])
    let error = loadError(data, ["data.modalities=[text, audio, face]"], resume: c)
    XCTAssertTrue(error.contains("(new: face; missing: vision)"), error)
  }

  func testChangedStepsAreRefused() throws {
    let data = try dataWithFace()
    let c = try trainedRun(data, ["data.modalities=[text, audio, vision]"])
    let error = loadError(data, ["data.modalities=[text, audio, vision]", "data.steps=4"], initFrom: c)
    XCTAssertTrue(
      error.contains("modality 'text' is put on 4 steps (data.steps), the checkpoint was trained on 6"), error)
  }

  func testElapsedTimeContinuesAcrossAResume() throws {
    let data = try writeSynthetic(dir)
    let run = dir.appendingPathComponent("a")
    // The first trainer is gone before the second starts: a live one holds the run directory's lock.
    let firstElapsed = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=2"])).history.last!.elapsed
    var options = TrainingSession.Options()
    options.resume = try Checkpoint.read(path: try RunDirectory.resolveCheckpoint(run.path))
    XCTAssertEqual(options.resume!.state.elapsed, firstElapsed, accuracy: 0.5)
    let resumed = try trainQuietly(try makeConfig(data: data, run: run, ["train.epochs=3"]), options: options)
    XCTAssertGreaterThanOrEqual(
      resumed.history.first!.elapsed, options.resume!.state.elapsed, "elapsed_s does not restart at 0")
  }

  func testARunThatFailsBeforeItsFirstCheckpointLeavesNoRunDirectory() throws {
    let notData = dir.appendingPathComponent("notes.txt").path
    try "not HDF5".write(toFile: notData, atomically: true, encoding: .utf8)
    let run = dir.appendingPathComponent("new/runs/a")
    XCTAssertThrowsError(try trainQuietly(try makeConfig(data: notData, run: run)))
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: dir.appendingPathComponent("new").path),
      "the folders the run created are gone")

    let existing = dir.appendingPathComponent("kept")
    try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: true)
    XCTAssertThrowsError(try trainQuietly(try makeConfig(data: notData, run: existing)))
    XCTAssertTrue(FileManager.default.fileExists(atPath: existing.path), "a folder the user made stays")
  }
}
