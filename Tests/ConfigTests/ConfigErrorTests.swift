@testable import MMConfig
import MMCore
import MMEval
import XCTest

/// Every mistake gives one line naming the file and the full key path, plus the fix.
final class ConfigErrorTests: XCTestCase {
  func testMissingPathIsRequired() {
    XCTAssertEqual(
      configErrorMessage("model:\n  hidden: 8\n"), "configs/x.yaml: data.path is required (the HDF5 data file)")
    XCTAssertEqual(configErrorMessage(""), "configs/x.yaml: data.path is required (the HDF5 data file)")
    XCTAssertEqual(
      configErrorMessage("data:\n  path: ''\n"), "configs/x.yaml: data.path is required (the HDF5 data file)")
    XCTAssertEqual(configErrorMessage("data:\n  path:\n"), "configs/x.yaml: data.path is required (the HDF5 data file)")
  }

  func testUnknownNestedKeySuggestsClosestKey() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  learning_rate: 0.1\n"),
      "configs/x.yaml: unknown key 'train.learning_rate' (did you mean 'train.lr'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  epcohs: 3\n"),
      "configs/x.yaml: unknown key 'train.epcohs' (did you mean 'train.epochs'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  validation_fractoin: 0.1\n"),
      "configs/x.yaml: unknown key 'data.validation_fractoin' (did you mean 'data.validation_fraction'?)")
  }

  func testUnknownKeyInWrongSectionSuggestsItsRealSection() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  epochs: 3\n"),
      "configs/x.yaml: unknown key 'model.epochs' (did you mean 'train.epochs'?)")
  }

  func testUnknownTopLevelKeySuggestsFullPath() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "lr: 0.1\n"), "configs/x.yaml: unknown key 'lr' (did you mean 'train.lr'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "trian:\n  lr: 0.1\n"),
      "configs/x.yaml: unknown section 'trian' (did you mean 'train'?)")
  }

  func testUnknownKeyWithNothingCloseListsValidKeys() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  xqzzkw: 4\n"),
      "configs/x.yaml: unknown key 'model.xqzzkw'; the keys in 'model' are "
        + ConfigSchema.keys(in: "model").map(\.name).joined(separator: ", "))
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "callbacks:\n  tensorboard: 4\n"),
      "configs/x.yaml: unknown section 'callbacks'; the sections are data, model, task, train, checkpoint, cv, report, dist"
    )
  }

  func testDottedKeyAtTopLevelMustBeNested() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train.lr: 0.1\n"),
      "configs/x.yaml: 'train.lr' must be nested under its section: write 'train:' and below it, indented, 'lr: ...'")
  }

  func testWrongTypes() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  epochs: ten\n"),
      "configs/x.yaml: train.epochs must be an integer, got 'ten'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  epochs: 2.5\n"),
      "configs/x.yaml: train.epochs must be an integer, got '2.5'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  lr: fast\n"), "configs/x.yaml: train.lr must be a number, got 'fast'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  seed: -1\n"),
      "configs/x.yaml: train.seed must be a non-negative integer, got '-1'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "model:\n  hidden: [64, [64]]\n"),
      "configs/x.yaml: model.hidden[1] must be an integer, got a list")
    XCTAssertEqual(
      configErrorMessage("data:\n  path: {file: x.h5}\n"), "configs/x.yaml: data.path must be a string, got a mapping")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  modalities: text\n"),
      "configs/x.yaml: data.modalities must be a list of strings such as [text, audio], got 'text'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  modalities: [text, [a]]\n"),
      "configs/x.yaml: data.modalities must be a list of strings, but item 2 is a list")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  modalities: [text, audio, text]\n"),
      "configs/x.yaml: data.modalities lists 'text' twice; name each modality once")
  }

  func testOutOfRangeValues() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  epochs: 0\n"),
      "configs/x.yaml: train.epochs must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  lr: -0.1\n"),
      "configs/x.yaml: train.lr must be greater than 0, got -0.1")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  weight_decay: -1\n"),
      "configs/x.yaml: train.weight_decay must be at least 0, got -1")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  validation_fraction: 1\n"),
      "configs/x.yaml: data.validation_fraction must be in [0, 1), i.e. at least 0 and below 1, got 1")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  momentum: 1.5\n"),
      "configs/x.yaml: train.momentum must be in [0, 1), i.e. at least 0 and below 1, got 1.5")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "checkpoint:\n  keep: 0\n"),
      "configs/x.yaml: checkpoint.keep must be at least 1, got 0")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "checkpoint:\n  dir: ''\n"), "configs/x.yaml: checkpoint.dir must not be empty")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  lr: .nan\n"), "configs/x.yaml: train.lr must be a number, got '.nan'")
  }

  func testInvalidEnumValueListsChoices() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  align: linear\n"),
      "configs/x.yaml: data.align must be one of interpolate, truncate, pad; got 'linear'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  optimizer: lbfgs\n"),
      "configs/x.yaml: train.optimizer must be one of sgd, adam, adamw, rmsprop; got 'lbfgs'")
  }

  func testClassesMustFitTaskKind() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: binary\n  classes: 3\n"),
      "configs/x.yaml: task.classes must be 2 (or left out) when task.kind is binary, got 3; "
        + "use task.kind: multiclass for more")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  classes: 1\n"),
      "configs/x.yaml: task.classes must be at least 2 when task.kind is multiclass, got 1; "
        + "leave it out to infer it from the labels")
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "task:\n  kind: regression\n  classes: 0\n"),
      "configs/x.yaml: task.classes must be at least 1, got 0")
  }

  func testExplicitNullOnKeyWithDefaultIsAnError() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "  normalize: null\n"),
      "configs/x.yaml: data.normalize has no value; give one (default zscore) or leave the key out")
  }

  func testSectionMustBeAMapping() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train: 5\n"),
      "configs/x.yaml: section 'train' must be a mapping ('train:' followed by indented 'key: value' lines), got '5'")
    XCTAssertEqual(
      configErrorMessage("- data\n- train\n"),
      "configs/x.yaml: the top level must be a mapping of sections (data, model, task, train, checkpoint, cv, report, dist), got a list"
    )
  }

  /// Yams 5 (what Package.swift resolves) lets duplicates through and the parser names them; Yams 6 rejects
  /// them itself as invalid YAML naming the key. Either way the message names the file and the key.
  func testDuplicateKeysAndSections() {
    let key = configErrorMessage(minimalYAML + "train:\n  lr: 0.1\n  lr: 0.2\n") ?? ""
    XCTAssertTrue(
      key == "configs/x.yaml: train.lr is given twice; keep one"
        || key.hasPrefix("configs/x.yaml: invalid YAML: ") && key.contains("'lr'"), key)
    let section = configErrorMessage(minimalYAML + "data:\n  steps: 3\n") ?? ""
    XCTAssertTrue(
      section == "configs/x.yaml: section 'data' appears twice; merge its keys under one 'data:'"
        || section.hasPrefix("configs/x.yaml: invalid YAML: ") && section.contains("'data'"), section)
  }

  func testMalformedYAMLNamesLineAndColumn() throws {
    let message = try XCTUnwrap(configErrorMessage("data:\n  path: a.h5\n  steps: [1, 2\n"))
    XCTAssertTrue(message.hasPrefix("configs/x.yaml: invalid YAML: line "), message)
    XCTAssertTrue(message.contains("column"), message)
    let badIndent = try XCTUnwrap(configErrorMessage("data:\n  path: a.h5\n   steps: 3\n"))
    XCTAssertTrue(badIndent.hasPrefix("configs/x.yaml: invalid YAML: line 3, column "), badIndent)
    XCTAssertTrue(badIndent.hasSuffix("check the indentation, and quote values that contain ': ' or ' #'"), badIndent)
  }

  func testLoadMissingFileNamesThePath() {
    XCTAssertThrowsError(try TrainConfig.load(path: "/nonexistent/mmtrain.yaml")) { error in
      XCTAssertEqual(
        (error as? MMError)?.message,
        "/nonexistent/mmtrain.yaml: config file not found; check the path (e.g. --config configs/demo.yaml)")
      XCTAssertEqual(error.localizedDescription, (error as? MMError)?.message)
    }
  }
}

final class CVConfigErrorTests: XCTestCase {
  func testCVAndReportKeys() throws {
    let c = try TrainConfig.parse(
      yaml:
        "data: {path: d.h5}\ncv: {folds: 10, strategy: stratified_group, shuffle: false, seed: 3, parallel_folds: 2}\nreport: {ablation: true, metric: macro_f1}\n",
      source: "x.yaml")
    XCTAssertEqual(c.cv.spec, FoldSpec(k: 10, strategy: .stratifiedGroup, shuffle: false, seed: 3))
    XCTAssertEqual(c.cv.parallelFolds, 2)
    XCTAssertEqual(c.report.metric, .macroF1)
    XCTAssertTrue(c.report.ablation)
    func error(_ yaml: String) -> String {
      do { _ = try TrainConfig.parse(yaml: "data: {path: d.h5}\n" + yaml, source: "x.yaml"); return "" } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(error("cv: {folds: 1}\n"), "x.yaml: cv.folds must be at least 2, got 1")
    XCTAssertTrue(
      error("cv: {strategy: grouped}\n").hasPrefix(
        "x.yaml: cv.strategy must be one of kfold, stratified, group, stratified_group"),
      error("cv: {strategy: grouped}\n"))
    XCTAssertEqual(
      error("cv: {folds: 3, parallel_folds: 4}\n"),
      "x.yaml: cv.parallel_folds = 4 is more than cv.folds = 3 (each group of ranks trains one fold at a time); use cv.parallel_folds ≤ 3"
    )
    XCTAssertTrue(
      error("task: {kind: regression}\nreport: {metric: accuracy}\n").hasPrefix(
        "x.yaml: report.metric is accuracy, which task.kind regression does not report; use auto or one of mse"))
    XCTAssertTrue(error("cv: {n_splits: 3}\n").contains("did you mean 'cv.folds'"), error("cv: {n_splits: 3}\n"))
  }
}
