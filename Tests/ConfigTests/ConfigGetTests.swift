import MMConfig
import XCTest

/// `mmtrain config --get KEY`: one key's value as the resolved YAML shows it, strings unquoted, for scripts
/// such as launch/submit.
final class ConfigGetTests: XCTestCase {
  func testValuesRenderAsTheResolvedYAMLShowsThem() throws {
    let yaml = minimalYAML + "  modalities: [text, audio]\n"
    let config = try XCTUnwrap(
      parseOK(yaml, overrides: ["train.batch_size=24", "train.lr=1e-3", #"checkpoint.dir="runs/a: b""#]))
    XCTAssertEqual(try config.value(ofKey: "train.batch_size"), "24")
    XCTAssertEqual(try config.value(ofKey: "train.lr"), "0.001")
    XCTAssertEqual(try config.value(ofKey: "data.modalities"), "[text, audio]")
    XCTAssertEqual(try config.value(ofKey: "train.early_stopping"), "null")
    XCTAssertEqual(try config.value(ofKey: "data.path"), "data.h5")
    XCTAssertEqual(try config.value(ofKey: "checkpoint.dir"), "runs/a: b", "a string as it is, not YAML-quoted")
    XCTAssertTrue(config.yaml().contains(#"dir: "runs/a: b""#), "while the YAML quotes it")
  }

  func testEveryKeyOfTheResolvedYAMLCanBeRead() throws {
    let config = try XCTUnwrap(parseOK(minimalYAML))
    var section = ""
    for line in config.yaml().split(separator: "\n") {
      if !line.hasPrefix(" ") { section = String(line.dropLast()); continue }
      let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
      let rendered = parts[1].trimmingCharacters(in: .whitespaces)
      let value = try config.value(ofKey: "\(section).\(parts[0])")
      XCTAssertTrue(value == rendered || "\"\(value)\"" == rendered, "\(section).\(parts[0]): \(value) vs \(rendered)")
    }
  }

  func testDefaults() throws {
    XCTAssertEqual(try TrainConfig.defaultValue(ofKey: "train.epochs"), "10")
    XCTAssertEqual(try TrainConfig.defaultValue(ofKey: "cv.folds"), "5")
    XCTAssertThrowsError(try TrainConfig.defaultValue(ofKey: "data.path")) { error in
      XCTAssertTrue("\(error)".contains("data.path: has no default"), "\(error)")
    }
  }

  func testUnknownKeysGetTheParsersSuggestion() throws {
    let config = try XCTUnwrap(parseOK(minimalYAML))
    func message(_ key: String) -> String {
      do { _ = try config.value(ofKey: key); return "no error" } catch { return "\(error)" }
    }
    XCTAssertEqual(message("trian.lr"), "--get: unknown key 'trian.lr' (did you mean 'train.lr'?)")
    XCTAssertEqual(
      message("train.learning_rate"), "--get: unknown key 'train.learning_rate' (did you mean 'train.lr'?)")
    XCTAssertEqual(message("batch_size"), "--get: unknown key 'batch_size' (did you mean 'train.batch_size'?)")
    XCTAssertEqual(message("train"), "--get: 'train' is a section; give one key, e.g. --get train.lr")
    XCTAssertEqual(try? TrainConfig.defaultValue(ofKey: "trian.lr"), nil)
  }
}
