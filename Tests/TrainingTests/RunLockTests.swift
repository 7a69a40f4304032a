import Foundation
import MMCheckpoint
import TestSupport
import XCTest

/// One run at a time in a run directory. Open-file-description locks conflict between two opens of the same
/// file even inside one process, so the rule can be checked here without a second process (the multi-rank
/// TrustTests check it between two real runs).
final class RunLockTests: XCTestCase {
  func testSecondExclusiveLockIsRefusedNamingTheHolder() throws {
    let dir = makeTemporaryDirectory("mmtrain-lock")
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = try RunLock(directory: dir.path, command: "mmtrain train --config a.yaml")
    XCTAssertThrowsError(try RunLock(directory: dir.path, command: "mmtrain train --config b.yaml")) { error in
      let message = "\(error)"
      XCTAssertTrue(
        message.contains("is in use by another run (mmtrain train --config a.yaml, pid \(getpid()) on "), message)
    }
    first.release()
    XCTAssertNoThrow(try RunLock(directory: dir.path, command: "again"), "released: the directory is free again")
  }

  func testFoldJobsShareButExcludeAWholeRun() throws {
    let dir = makeTemporaryDirectory("mmtrain-lock")
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try RunLock(directory: dir.path, mode: .shared, command: "mmtrain cv --fold 0")
    let b = try RunLock(directory: dir.path, mode: .shared, command: "mmtrain cv --fold 1")
    XCTAssertThrowsError(try RunLock(directory: dir.path, command: "mmtrain cv --resume"))
    a.release()
    b.release()
    let whole = try RunLock(directory: dir.path, command: "mmtrain cv")
    XCTAssertThrowsError(try RunLock(directory: dir.path, mode: .shared, command: "mmtrain cv --fold 2"))
    whole.release(removingFile: true)
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/" + RunLock.fileName))
  }

  func testUnwritableDirectoryIsOneLine() {
    XCTAssertThrowsError(try RunLock(directory: "/proc/no-such-dir", command: "x")) {
      XCTAssertTrue("\($0)".contains("cannot create the run directory's lock file"), "\($0)")
    }
  }
}
