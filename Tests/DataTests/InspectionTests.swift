import MMData
import MMHDF5
import TestSupport
import XCTest

/// `mmtrain inspect`'s verdict on labels that training would trip over later, and on a file without labels.
final class InspectionTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("inspection") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// text [6, 2, 1], and whatever `body` adds (labels, their class names).
  func file(_ name: String, _ body: (HDF5File) throws -> Void) throws -> String {
    let path = dir.appendingPathComponent(name).path
    let f = try HDF5File(path: path, mode: .truncate)
    try f.writeFloats("/modalities/text", (0..<12).map(Float.init), shape: [6, 2, 1])
    try body(f)
    f.close()
    return path
  }

  func testLabelBeyondClassNamesIsAProblem() throws {
    let path = try file("names.h5") { f in
      try f.writeInt64s("/labels", [0, 1, 2, 1, 0, 2], shape: [6])
      try f.setAttribute("class_names", on: "/labels", strings: ["cat", "dog"])
    }
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.problems.count, 1, "\(report.problems)")
    XCTAssertTrue(report.problems.first?.contains("class id 2") ?? false, "\(report.problems)")
    XCTAssertTrue(report.problems.first?.contains("class_names names 2 classes") ?? false, "\(report.problems)")
    XCTAssertEqual(report.verdict, "usable: no (1 problem)")
  }

  func testLabelsWithinClassNamesAreFine() throws {
    let path = try file("fits.h5") { f in
      try f.writeInt64s("/labels", [0, 1, 2, 1, 0, 2], shape: [6])
      try f.setAttribute("class_names", on: "/labels", strings: ["cat", "dog", "owl"])
    }
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.problems, [])
    XCTAssertEqual(report.verdict, "usable: yes")
  }

  func testASingleClassIsAWarning() throws {
    let path = try file("one.h5") { f in
      try f.writeInt64s("/labels", [1, 1, 1, 1, 1, 1], shape: [6])
      try f.setAttribute("class_names", on: "/labels", strings: ["cat", "dog"])
    }
    let report = try Inspection.run(path: path)
    XCTAssertEqual(report.warnings, ["only class 1 (dog) occurs: a classifier cannot learn from it"])
    XCTAssertEqual(report.verdict, "usable: yes (1 warning)")
  }

  func testAnUnlabelledFileIsForPredict() throws {
    let path = try file("unlabelled.h5") { _ in }
    let report = try Inspection.run(path: path)
    XCTAssertTrue(report.isValid, "\(report.problems)")
    XCTAssertEqual(report.verdict, "usable for predict (no /labels: not for training)")
    XCTAssertTrue(report.lines.contains { $0.hasPrefix("labels      none") }, "\(report.lines)")
  }
}
