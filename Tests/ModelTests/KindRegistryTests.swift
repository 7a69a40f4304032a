import MMModel
import XCTest

/// Every kind chosen by name has one registry (`allCases`): names are unique, a registered name finds its kind,
/// and any other name finds none (the config turns that into one line listing the valid names).
final class KindRegistryTests: XCTestCase {
  func check<K: RegisteredKind>(_ kind: K.Type, unknown: String, file: StaticString = #filePath, line: UInt = #line) {
    let names = K.allCases.map(\.rawValue)
    XCTAssertEqual(Set(names).count, names.count, "\(K.self): duplicate names \(names)", file: file, line: line)
    for k in K.allCases { XCTAssertEqual(K(rawValue: k.rawValue), k, file: file, line: line) }
    XCTAssertNil(K(rawValue: unknown), "\(K.self): '\(unknown)' is not registered", file: file, line: line)
  }

  func testRegistries() {
    check(CellKind.self, unknown: "rnn")
    check(PoolingKind.self, unknown: "sum")
    check(FusionKind.self, unknown: "concat")
    XCTAssertEqual(CellKind.allCases.map(\.rawValue), ["lstm", "lstm_peephole", "gru"])
    XCTAssertEqual(PoolingKind.allCases.map(\.rawValue), ["last", "mean", "max", "attention"])
    XCTAssertEqual(FusionKind.allCases.map(\.rawValue), ["early", "late", "attention", "tensor", "gated"])
  }

  /// Each cell names its own module and gate width: nothing falls back to the LSTM's.
  func testCellTraits() {
    XCTAssertEqual(CellKind.allCases.map(\.module), ["lstm", "lstm", "gru"])
    XCTAssertEqual(CellKind.allCases.map(\.gateCount), [4, 4, 3])
    XCTAssertEqual(CellKind.allCases.map(\.displayName), ["LSTM", "peephole LSTM", "GRU"])
  }
}
