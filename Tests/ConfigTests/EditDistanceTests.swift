import XCTest

@testable import MMConfig

final class EditDistanceTests: XCTestCase {
  func testDistances() {
    XCTAssertEqual(editDistance("", ""), 0)
    XCTAssertEqual(editDistance("", "abc"), 3)
    XCTAssertEqual(editDistance("lr", "lr"), 0)
    XCTAssertEqual(editDistance("trian", "train"), 1)  // adjacent swap counts once
    XCTAssertEqual(editDistance("epcohs", "epochs"), 1)
    XCTAssertEqual(editDistance("kitten", "sitting"), 3)
    XCTAssertEqual(editDistance("batchsize", "batch_size"), 1)
  }

  func testSuggestionThreshold() {
    XCTAssertEqual(KeySuggestion.closest(to: "hiden", inSection: "model"), "model.hidden")
    XCTAssertEqual(KeySuggestion.closest(to: "Batch-Size", inSection: "train"), "train.batch_size")
    XCTAssertEqual(KeySuggestion.closest(to: "path", inSection: "checkpoint"), "checkpoint.dir")  // alias, same section
    XCTAssertEqual(KeySuggestion.closest(to: "path", inSection: nil), "data.path")
    XCTAssertNil(KeySuggestion.closest(to: "xqzzkw", inSection: "model"))
    XCTAssertEqual(KeySuggestion.closest(to: "attention_heads", inSection: "model"), "model.attention_size")
    XCTAssertNil(KeySuggestion.closest(to: "zzz", inSection: nil))
  }
}
