import MMConfig
import MMCore
import XCTest

/// The smallest valid config: data.path is the only required key.
let minimalYAML = "data:\n  path: data.h5\n"

/// The usage MMError message that parsing `yaml` (as configs/x.yaml, with `overrides`) throws.
func configErrorMessage(
  _ yaml: String, overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line
) -> String? {
  do {
    let config = try TrainConfig.parse(yaml: yaml, source: "configs/x.yaml", overrides: overrides)
    XCTFail("expected a config error, parsed \(config)", file: file, line: line)
  } catch let error as MMError where error.kind == .usage {
    XCTAssertEqual(error.description, error.message, file: file, line: line)
    XCTAssertFalse(error.message.contains("\n"), "errors are one line: \(error.message)", file: file, line: line)
    return error.message
  } catch {
    XCTFail("expected a config error (MMError, usage), got \(type(of: error)): \(error)", file: file, line: line)
  }
  return nil
}

/// Parses `yaml` as configs/x.yaml, failing the test on any error.
func parseOK(_ yaml: String, overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line)
  -> TrainConfig?
{
  do {
    return try TrainConfig.parse(yaml: yaml, source: "configs/x.yaml", overrides: overrides)
  } catch {
    XCTFail("unexpected error: \(error)", file: file, line: line)
    return nil
  }
}
