import MMConfig
import XCTest

/// --set key.path=value: applied to the parsed tree before validation, the value read as YAML.
final class ConfigOverrideTests: XCTestCase {
  func testOverridesOfEachValueType() throws {
    let config = try XCTUnwrap(
      parseOK(
        minimalYAML + "train:\n  epochs: 10\n",
        overrides: [
          "train.epochs=3", "train.lr=1e-3", "data.path=other.h5", "data.modalities=[text,audio]",
          "train.optimizer=sgd", "task.classes=4",
        ]))
    XCTAssertEqual(config.train.epochs, 3)
    XCTAssertEqual(config.train.lr, 0.001)
    XCTAssertEqual(config.data.path, "other.h5")
    XCTAssertEqual(config.data.modalities, ["text", "audio"])
    XCTAssertEqual(config.train.optimizer, .sgd)
    XCTAssertEqual(config.task.classes, 4)
  }

  func testOverrideCanSupplyRequiredKeyAndMissingSection() throws {
    let config = try XCTUnwrap(parseOK("", overrides: ["data.path=runs/x.h5", "checkpoint.keep=7"]))
    XCTAssertEqual(config.data.path, "runs/x.h5")
    XCTAssertEqual(config.checkpoint.keep, 7)
  }

  func testLaterOverrideWinsAndEmptyValueClearsClasses() throws {
    XCTAssertEqual(parseOK(minimalYAML, overrides: ["train.seed=1", "train.seed=2"])?.train.seed, 2)
    XCTAssertNil(parseOK(minimalYAML + "task:\n  classes: 3\n", overrides: ["task.classes="])?.task.classes)
    XCTAssertEqual(parseOK(minimalYAML, overrides: ["data.path=a=b.h5"])?.data.path, "a=b.h5")
    XCTAssertEqual(parseOK(minimalYAML, overrides: [#"checkpoint.dir="runs/a: b""#])?.checkpoint.dir, "runs/a: b")
  }

  func testUnknownOverrideKeySuggestsClosest() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["train.learning_rate=0.1"]),
      "--set: unknown key 'train.learning_rate' (did you mean 'train.lr'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["trian.lr=0.1"]),
      "--set: unknown key 'trian.lr' (did you mean 'train.lr'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["epochs=3"]),
      "--set: unknown key 'epochs' (did you mean 'train.epochs'?)")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["foo.bar=3"]),
      "--set: unknown key 'foo.bar'; keys are section.key, e.g. train.lr")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["train=3"]),
      "--set: 'train' is a section; set one key at a time, e.g. --set train.lr=0.001")
  }

  func testOverrideWithoutEquals() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["train.lr"]),
      "--set: 'train.lr' has no '='; write --set key.path=value, e.g. --set train.lr=0.001")
  }

  func testBadOverrideValueNamesSetAsTheSource() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["train.epochs=ten"]),
      "--set: train.epochs must be an integer, got 'ten'")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["task.kind=binary", "task.classes=3"]),
      "--set: task.classes must be 2 (or left out) when task.kind is binary, got 3; use task.kind: multiclass for more")
    XCTAssertEqual(
      configErrorMessage(minimalYAML, overrides: ["data.modalities=[text"]),
      "--set: data.modalities=[text: the value is not valid YAML (did not find expected ',' or ']'); "
        + "check its brackets, or quote it as a string: --set 'data.modalities=\"[text\"'")
  }

  func testUnknownKeyInFileIsReportedBeforeOverrides() {
    XCTAssertEqual(
      configErrorMessage(minimalYAML + "train:\n  lrr: 1\n", overrides: ["train.lr=0.1"]),
      "configs/x.yaml: unknown key 'train.lrr' (did you mean 'train.lr'?)")
  }
}
