import Foundation
import MMCore
import MMDistributed
import MMTraining
import TestSupport
import XCTest

/// The run directory must be one folder on every node. Two folders stand in for two nodes' views of one
/// checkpoint.dir here; launch/cluster-test.sh checks the whole run on real nodes (one with a private mount
/// over the run directory), where it stops at start-up with this line.
final class SharedRunDirectoryTests: XCTestCase {
  var dir: URL!
  override func setUp() { dir = makeTemporaryDirectory("shared-run-dir") }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testTheSameFolderHoldsTheMarker() throws {
    let marker = try SharedRunDirectory.write(into: dir.path)
    XCTAssertTrue(marker.name.hasPrefix(".shared-check-"), marker.name)
    XCTAssertNil(SharedRunDirectory.mismatch(in: dir.path, marker: marker))
    XCTAssertNotEqual(try SharedRunDirectory.write(into: dir.path).name, marker.name, "a new name on every run")
  }

  func testANodeLocalFolderIsNamed() throws {
    let shared = dir.appendingPathComponent("shared").path
    let local = dir.appendingPathComponent("local").path
    for folder in [shared, local] {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    let marker = try SharedRunDirectory.write(into: shared)
    XCTAssertEqual(SharedRunDirectory.mismatch(in: local, marker: marker), "it is not there")
    XCTAssertEqual(
      SharedRunDirectory.mismatch(in: dir.appendingPathComponent("missing").path, marker: marker),
      "the folder does not exist")
    try "0 elsewhere".write(toFile: local + "/" + marker.name, atomically: false, encoding: .utf8)
    XCTAssertEqual(SharedRunDirectory.mismatch(in: local, marker: marker), "it holds another text there")
  }

  func testOneProcessWritesNothing() throws {
    try SharedRunDirectory.check(dir.path, comm: SingleProcessCommunicator())
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
  }
}
