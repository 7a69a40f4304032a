import Foundation
import MMConfig
import MMCore
import TestSupport
import XCTest

/// The rule for --resume: keys that shaped what was already trained are frozen (by prefix), the rest free;
/// resolved values are compared, so repeating a value is fine.
final class ResumeRulesTests: XCTestCase {
  let saved = parseOK(minimalYAML + "train:\n  seed: 3\ntask:\n  classes: 2\n")!

  func changed(_ overrides: [String]) -> [String] {
    guard let new = parseOK(minimalYAML + "train:\n  seed: 3\n", overrides: overrides) else { return [] }
    return ResumeRules.changedKeys(checkpoint: saved, run: new).map(\.key)
  }

  func testSeedChangeIsRefusedNamingTheKey() throws {
    XCTAssertEqual(changed(["train.seed=9"]), ["train.seed"])
    let new = parseOK(minimalYAML, overrides: ["train.seed=9"])!
    XCTAssertThrowsError(try ResumeRules.check(checkpoint: saved, run: new, checkpointPath: "runs/a/latest")) { error in
      let message = "\(error)"
      XCTAssertEqual((error as? MMError)?.kind, .usage, "a config error (exit 64): \(type(of: error))")
      XCTAssertTrue(message.contains("train.seed = 9 differs from the checkpoint's 3"), message)
      XCTAssertTrue(message.contains("--init runs/a/latest"), "offers --init: \(message)")
    }
  }

  func testKeysThatShapedTheTrainingAreFrozen() {
    XCTAssertEqual(changed(["data.steps=7"]), ["data.steps"])
    XCTAssertEqual(changed(["data.modalities=[b, a]"]), ["data.modalities"])
    XCTAssertEqual(changed(["data.validation_fraction=0.3"]), ["data.validation_fraction"])
    XCTAssertEqual(changed(["model.hidden=7"]), ["model.hidden"])
    XCTAssertEqual(changed(["task.kind=regression", "task.classes=3"]), ["task.kind", "task.classes"])
  }

  /// A run trained world-invariant (exact chunked sums) and one trained without it computed different things:
  /// switching on resume is refused, naming the key; `dist.compress` and the other dist keys stay free. A config
  /// that leaves the key out continues as the checkpoint was trained (one from before it was on by default).
  func testWorldInvarianceIsFrozen() throws {
    XCTAssertEqual(changed(["dist.world_invariant=false"]), ["dist.world_invariant"])
    XCTAssertEqual(changed(["dist.world_invariant=true", "dist.timeout_s=60", "dist.check_every=5"]), [])
    let new = parseOK(minimalYAML + "train:\n  seed: 3\n", overrides: ["dist.world_invariant=false"])!
    XCTAssertThrowsError(try ResumeRules.check(checkpoint: saved, run: new, checkpointPath: "runs/a/latest")) { error in
      XCTAssertEqual((error as? MMError)?.kind, .usage, "a config error (exit 64)")
      XCTAssertTrue("\(error)".contains("dist.world_invariant = false differs from the checkpoint's true"), "\(error)")
    }
    // A checkpoint's config holds every key (TrainConfig.yaml): one trained without the key on.
    let off = try XCTUnwrap(parseOK(minimalYAML + "train:\n  seed: 3\n", overrides: ["dist.world_invariant=false"]))
    let stored = try TrainConfig.parse(yaml: off.yaml(), source: "checkpoint")
    let leftOut = try XCTUnwrap(parseOK(minimalYAML + "train:\n  seed: 3\n"))
    XCTAssertTrue(leftOut.dist.worldInvariant, "on by default")
    XCTAssertEqual(ResumeRules.changedKeys(checkpoint: stored, run: leftOut).map(\.key), [])
    let resumed = try ResumeRules.check(checkpoint: stored, run: leftOut, checkpointPath: "runs/a/latest")
    XCTAssertFalse(resumed.dist.worldInvariant, "continues as the checkpoint was trained")
    // Left out beside dist.compress: fp16, it is off, which a world-invariant checkpoint refuses.
    let fp16 = try XCTUnwrap(parseOK(minimalYAML + "train:\n  seed: 3\n", overrides: ["dist.compress=fp16"]))
    let on = try TrainConfig.parse(yaml: leftOut.yaml(), source: "checkpoint")
    XCTAssertEqual(ResumeRules.changedKeys(checkpoint: on, run: fp16).map(\.key), ["dist.world_invariant"])
  }

  /// Exact fixed-point sums and float16 rounding of the payload do not mix: one line naming both keys. Left out,
  /// the key follows dist.compress: on unless fp16.
  func testWorldInvarianceRefusesACompressedPayload() throws {
    XCTAssertEqual(TrainConfig.defaults.dist.worldInvariant, true)
    let message = try XCTUnwrap(
      configErrorMessage(minimalYAML, overrides: ["dist.world_invariant=true", "dist.compress=fp16"]))
    XCTAssertTrue(message.contains("dist.world_invariant") && message.contains("dist.compress: none"), message)
    XCTAssertEqual(parseOK(minimalYAML, overrides: ["dist.compress=fp16"])?.dist.worldInvariant, false)
    XCTAssertEqual(parseOK(minimalYAML)?.dist.worldInvariant, true)
  }

  func testKeysThatOnlyChangeTheFutureAreFree() {
    XCTAssertEqual(changed(["train.epochs=50", "train.lr=0.1", "checkpoint.keep=9", "checkpoint.every_epochs=2"]), [])
    XCTAssertEqual(changed(["train.seed=3", "data.steps=20"]), [], "repeating the checkpoint's value is no change")
    XCTAssertEqual(changed(["task.classes="]), [], "classes left to inference take the checkpoint's")
    XCTAssertEqual(
      changed(["data.path=/elsewhere/data.h5"]), [], "the data may move; its fingerprint says whether it changed")
  }

  func testTheRuleIsByPrefixSoFutureSectionsAreCovered() {
    for key in ["cv.folds", "cv.strategy", "model.cell", "data.anything_new", "train.seed"] {
      XCTAssertTrue(ResumeRules.isFrozen(key), key)
    }
    for key in ["train.epochs", "train.lr", "train.seeds", "checkpoint.dir", "data.path", "cvx.folds"] {
      XCTAssertFalse(ResumeRules.isFrozen(key), key)
    }
  }

  func testResumedConfigTakesTheInferredValuesOfTheCheckpoint() throws {
    var withModalities = saved
    withModalities.data.modalities = ["b", "a"]
    let resumed = try ResumeRules.check(
      checkpoint: withModalities, run: parseOK(minimalYAML + "train:\n  seed: 3\n")!, checkpointPath: "c")
    XCTAssertEqual(resumed.task.classes, 2)
    XCTAssertEqual(resumed.data.modalities, ["b", "a"])
  }
}

/// Paths, HDF5 given as --config, and the world-size rule.
final class ConfigPathTests: XCTestCase {
  func testRelativePathsBecomeAbsoluteAgainstTheStartDirectory() {
    let c = parseOK("data:\n  path: ../d/data.h5\ncheckpoint:\n  dir: runs/a/\n")!.resolvingPaths(against: "/work/proj")
    XCTAssertEqual(c.data.path, "/work/d/data.h5")
    XCTAssertEqual(c.checkpoint.dir, "/work/proj/runs/a")
    let absolute = parseOK("data:\n  path: /x/data.h5\n")!.resolvingPaths(against: "/work/proj")
    XCTAssertEqual(absolute.data.path, "/x/data.h5")
    XCTAssertEqual(TrainConfig.display("/work/proj/runs/a", from: "/work/proj"), "runs/a")
    XCTAssertEqual(TrainConfig.display("/elsewhere/runs/a", from: "/work/proj"), "/elsewhere/runs/a")
  }

  func testAnHDF5FileGivenAsConfigIsNamed() throws {
    let dir = makeTemporaryDirectory("config")
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("data.h5").path
    XCTAssertTrue(
      FileManager.default.createFile(
        atPath: path, contents: Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0])))
    XCTAssertThrowsError(try TrainConfig.load(path: path)) { error in
      XCTAssertTrue("\(error)".contains("\(path): is an HDF5 file, not a YAML config"), "\(error)")
    }
  }

  func testBatchSmallerThanTheWorldIsAConfigError() {
    let c = parseOK(minimalYAML + "train:\n  batch_size: 2\n")!
    XCTAssertNoThrow(try c.check(worldSize: 2))
    XCTAssertThrowsError(try c.check(worldSize: 4)) { error in
      XCTAssertEqual((error as? MMError)?.kind, .usage)
      XCTAssertTrue("\(error)".contains("train.batch_size = 2 is smaller than the world size 4"), "\(error)")
    }
  }
}

/// The same rule for cv --resume and cv --fold: the manifest's config is what the folds train with.
final class CVResumeRulesTests: XCTestCase {
  func testFrozenKeysAreRefusedAndScheduleKeysFree() throws {
    let saved = parseOK(minimalYAML + "cv:\n  folds: 5\n")!
    for change in ["model.hidden=17", "cv.folds=3", "cv.strategy=stratified", "data.steps=7"] {
      let new = parseOK(minimalYAML + "cv:\n  folds: 5\n", overrides: [change])!
      XCTAssertThrowsError(
        try ResumeRules.checkCV(manifest: saved, run: new, how: "cv --resume r", manifestPath: "r/folds.json"), change
      ) {
        let key = String(change.split(separator: "=")[0])
        XCTAssertTrue("\($0)".contains("\(key) = "), "\($0)")
        XCTAssertTrue("\($0)".contains("folds of two experiments"), "\($0)")
      }
    }
    for free in ["train.epochs=9", "cv.parallel_folds=1", "cv.refit=true", "checkpoint.keep=1"] {
      let new = parseOK(minimalYAML + "cv:\n  folds: 5\n", overrides: [free])!
      XCTAssertNoThrow(
        try ResumeRules.checkCV(manifest: saved, run: new, how: "cv --resume r", manifestPath: "r/folds.json"), free)
    }
  }
}
