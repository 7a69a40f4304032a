import MMHDF5
import TestSupport
import XCTest

/// Every attribute kind round-trips, on the root, a group and a dataset, and overwrites in place.
final class AttributeTests: XCTestCase {
  func testAllAttributeKindsRoundTrip() throws {
    let path = makeTemporaryDirectory("hdf5-attributes").appendingPathComponent("attrs.h5").path
    let yaml = String(repeating: "model:\n  hidden: 128  # ünïcödé\n", count: 4000)  // ~140 KB, past 64 KB
    let file = try HDF5File(path: path, mode: .truncate)
    try file.writeFloats("/data/x", [1, 2], shape: [2])
    for object in ["/", "/data", "/data/x"] {
      try file.setAttribute("config", on: object, string: yaml)
      try file.setAttribute("names", on: object, strings: ["neg", "neu", "pos", ""])
      try file.setAttribute("none", on: object, strings: [])
      try file.setAttribute("step", on: object, int: -1 << 40)
      try file.setAttribute("lr", on: object, double: 3e-4)
      try file.setAttribute("rng", on: object, uint64s: [0, 1, .max])
    }
    try file.setAttribute("step", on: "/", int: 7)  // overwrite
    try file.setAttribute("lr", on: "/", string: "now a string")  // overwrite with another type
    file.close()

    let reopened = try HDF5File(path: path)
    for object in ["/data", "/data/x"] {
      XCTAssertEqual(try reopened.stringAttribute("config", on: object), yaml)
      XCTAssertEqual(try reopened.stringsAttribute("names", on: object), ["neg", "neu", "pos", ""])
      XCTAssertEqual(try reopened.stringsAttribute("none", on: object), [])
      XCTAssertEqual(try reopened.intAttribute("step", on: object), -1 << 40)
      XCTAssertEqual(try reopened.doubleAttribute("lr", on: object), 3e-4)
      XCTAssertEqual(try reopened.uint64sAttribute("rng", on: object), [0, 1, .max])
    }
    XCTAssertEqual(try reopened.intAttribute("step", on: "/"), 7)
    XCTAssertEqual(try reopened.doubleAttribute("step", on: "/"), 7)  // integers convert to double
    XCTAssertEqual(try reopened.stringAttribute("lr", on: "/"), "now a string")
    XCTAssertEqual(try reopened.stringsAttribute("config", on: "/"), [yaml])  // scalar reads as [s]
    XCTAssertTrue(reopened.hasAttribute("rng", on: "/data/x"))
    XCTAssertFalse(reopened.hasAttribute("missing", on: "/data/x"))
    XCTAssertFalse(reopened.hasAttribute("rng", on: "/missing"))
  }

  func testWrongAttributeTypesAndMissingAttributesThrow() throws {
    let path = makeTemporaryDirectory("hdf5-attributes").appendingPathComponent("attrs.h5").path
    let file = try HDF5File(path: path, mode: .truncate)
    try file.setAttribute("name", on: "/", string: "x")
    try file.setAttribute("names", on: "/", strings: ["a", "b"])
    try file.setAttribute("lr", on: "/", double: 0.1)
    XCTAssertThrowsError(try file.intAttribute("lr", on: "/")) { error in
      XCTAssertTrue("\(error)".contains("float64, not an integer"), "\(error)")
    }
    XCTAssertThrowsError(try file.doubleAttribute("name", on: "/"))
    XCTAssertThrowsError(try file.stringAttribute("lr", on: "/"))
    XCTAssertThrowsError(try file.stringAttribute("names", on: "/"))
    XCTAssertThrowsError(try file.intAttribute("missing", on: "/")) { error in
      XCTAssertTrue("\(error)".contains("attribute 'missing' on '/' not found"), "\(error)")
      XCTAssertTrue("\(error)".contains(path), "\(error)")
    }
    XCTAssertThrowsError(try file.setAttribute("a", on: "/nowhere", int: 1)) { error in
      XCTAssertTrue("\(error)".contains("'/nowhere' not found"), "\(error)")
    }
  }
}
